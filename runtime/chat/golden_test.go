package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// golden.json is written by testdata/golden.mjs with @huggingface/jinja, the
// Jinja port transformers.js uses for apply_chat_template.
type goldenFile struct {
	Generator string       `json:"generator"`
	Cases     []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name     string    `json:"name"`
	Template string    `json:"template"`
	Now      time.Time `json:"now"`
	Input    Input     `json:"input"`
	Expected *string   `json:"expected"`
	Error    string    `json:"error"`
}

type fixup struct{ js, python string }

// pythonFixups turns @huggingface/jinja's output into what Hugging Face
// transformers (Python Jinja2, and so vLLM and SGLang) produces, where the two
// engines disagree. Python is the reference: it is what the models were
// trained with. Each fixup must apply, so a regenerated golden.json that no
// longer needs one fails loudly.
//
//   - floatFixup: the tool schema says "default": 250.0. Python's json.loads
//     keeps it a float and json.dumps writes 250.0; JavaScript numbers have no
//     int/float distinction, so tojson writes 250.
//   - strip, lstrip, rstrip with an argument: Python strips only the given
//     characters (Qwen3's reasoning_content.strip('\n') keeps leading spaces);
//     @huggingface/jinja 0.5.11 ignores the argument and strips all whitespace.
//
// (The other classic difference, tojson's separators, is gone in
// @huggingface/jinja 0.5.x: it writes ", " and ": " like json.dumps, and ","
// with indent. The Go side is checked against Python's rules directly in
// TestToJSON.)
var floatFixup = fixup{`"default": 250`, `"default": 250.0`}

var pythonFixups = map[string][]fixup{
	"qwen3/tools_and_tool_calls": {floatFixup},
	"qwen3/tools_no_system":      {floatFixup},
	"features/everything": {
		floatFixup,
		{"[Hi, what's the weather like today?]\n", "[Hi, what's the weather like today]\n"},
		{"[  Sunny and warm!] [Sunny and warm!]\n", "[  Sunny and warm!] [Sunny and warm]\n"},
	},
	"features/thinking_default": {floatFixup},
	"qwen3/strip_newlines_only": {
		{"<think>\nindented thought\n</think>\n\nindented answer", "<think>\n  indented thought\n</think>\n\n  indented answer"},
	},
}

func loadGolden(t testing.TB) goldenFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("decode golden.json: %v", err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return g
}

func compileFile(t testing.TB, name string) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := Compile(string(src))
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return tpl
}

// pythonExpected applies the case's fixups to the golden text.
func pythonExpected(c goldenCase) (string, error) {
	want := *c.Expected
	for _, f := range pythonFixups[c.Name] {
		if !strings.Contains(want, f.js) {
			return "", fmt.Errorf("fixup %q does not apply to the golden output", f.js)
		}
		want = strings.ReplaceAll(want, f.js, f.python)
	}
	return want, nil
}

func TestGolden(t *testing.T) {
	g := loadGolden(t)
	templates := map[string]*Template{}
	seen := map[string]bool{}
	for _, c := range g.Cases {
		if seen[c.Name] {
			t.Fatalf("duplicate case %s", c.Name)
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			tpl := templates[c.Template]
			if tpl == nil {
				tpl = compileFile(t, c.Template)
				templates[c.Template] = tpl
			}
			in := c.Input
			in.Now = c.Now
			got, err := tpl.Render(in)
			if c.Error != "" {
				var te *TemplateError
				if !errors.As(err, &te) {
					t.Fatalf("want a TemplateError %q, got output %q, err %v", c.Error, got, err)
				}
				if te.Message != c.Error {
					t.Fatalf("raised %q, want %q", te.Message, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			want, err := pythonExpected(c)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("rendering differs from %s:\n%s", g.Generator, diff(want, got))
			}
		})
	}
	for name := range pythonFixups {
		if !seen[name] {
			t.Errorf("pythonFixups names case %s, which golden.json lacks", name)
		}
	}
}

// diff shows where two renderings part ways.
func diff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(i-80, 0)
	return fmt.Sprintf("first difference at byte %d\nwant: %q\n got: %q\nfull want:\n%s\nfull got:\n%s",
		i, want[lo:min(i+80, len(want))], got[lo:min(i+80, len(got))], want, got)
}

// TestConcurrentRender renders every golden case from many goroutines over
// shared compiled templates; run with -race.
func TestConcurrentRender(t *testing.T) {
	g := loadGolden(t)
	templates := map[string]*Template{}
	for _, c := range g.Cases {
		if templates[c.Template] == nil {
			templates[c.Template] = compileFile(t, c.Template)
		}
	}
	const workers, rounds = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*len(g.Cases))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				for i := range g.Cases {
					c := g.Cases[(i+w+r)%len(g.Cases)]
					in := c.Input
					in.Now = c.Now
					got, err := templates[c.Template].Render(in)
					if c.Error != "" {
						if err == nil {
							errs <- fmt.Errorf("%s: want error", c.Name)
						}
						continue
					}
					want, ferr := pythonExpected(c)
					if ferr != nil {
						errs <- ferr
						continue
					}
					if err != nil || got != want {
						errs <- fmt.Errorf("%s: concurrent render differs (err %v)", c.Name, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
