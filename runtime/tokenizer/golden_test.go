package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/internal/testmodels"
)

// goldenEntry is one line of testdata/tokenizers/golden-<name>.json, written by golden.mjs from
// the reference (transformers.js) tokenizer.
type goldenEntry struct {
	Text      string  `json:"text"`
	IDs       []int32 `json:"ids"`
	RoundTrip bool    `json:"roundtrip"`
}

func loadGolden(t testing.TB, name string) []goldenEntry {
	t.Helper()
	path := filepath.Join(testmodels.TestdataDir(t), "golden-"+name+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v", err)
	}
	var entries []goldenEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return entries
}

func loadCorpus(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testmodels.TestdataDir(t), "corpus.json"))
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	var corpus []string
	if err := json.Unmarshal(data, &corpus); err != nil {
		t.Fatalf("parse corpus: %v", err)
	}
	return corpus
}

// Loading a 10 MB tokenizer.json takes a while; tests share one instance per name.
var (
	loadedMu sync.Mutex
	loaded   = map[string]*Tokenizer{}
)

func load(t testing.TB, name string) *Tokenizer {
	t.Helper()
	path := testmodels.TokenizerJSON(t, name)
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tk, ok := loaded[name]; ok {
		return tk
	}
	tk, err := FromFile(path)
	if err != nil {
		t.Fatalf("FromFile(%s): %v", name, err)
	}
	loaded[name] = tk
	return tk
}

func tokensOf(tk *Tokenizer, ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d:%q", id, tk.Token(id))
	}
	return strings.Join(parts, " ")
}

func TestGolden(t *testing.T) {
	corpus := loadCorpus(t)
	for _, name := range testmodels.Names() {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			golden := loadGolden(t, name)
			if len(golden) != len(corpus) {
				t.Fatalf("golden-%s.json has %d entries, corpus.json %d: rerun golden.mjs", name, len(golden),
					len(corpus))
			}
			match, rt, rtChecked := 0, 0, 0
			for i, g := range golden {
				if g.Text != corpus[i] {
					t.Fatalf("entry %d: golden text differs from corpus: rerun golden.mjs", i)
				}
				got := tk.Encode(g.Text)
				if slices.Equal(got, g.IDs) {
					match++
				} else {
					t.Errorf("entry %d %q:\n got  %s\n want %s", i, truncate(g.Text, 60), tokensOf(tk, got),
						tokensOf(tk, g.IDs))
				}
				if g.RoundTrip {
					rtChecked++
					if back := tk.Decode(got); back == g.Text {
						rt++
					} else {
						t.Errorf("entry %d: Decode(Encode(x)) = %q, want %q", i, truncate(back, 80),
							truncate(g.Text, 80))
					}
				}
			}
			t.Logf("%s: %d/%d corpus entries match the reference; %d/%d round-trip", name, match, len(golden),
				rt, rtChecked)
		})
	}
}

func tokenizerPath(t testing.TB, name string) string { return testmodels.TokenizerJSON(t, name) }
