package sparse

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig(28)
	for i, m := range c.Layers {
		want := Sparse
		switch i {
		case 0, 1:
			want = Full
		case 2, 14, 22:
			want = Select
		}
		if m != want {
			t.Fatalf("28 layers: layer %d is %s, want %s", i, m, want)
		}
	}
	for _, n := range []int{1, 2, 4, 5, 16, 24, 36, 64} {
		c := DefaultConfig(n)
		if err := c.Validate(n); err != nil {
			t.Fatalf("%d layers: %v", n, err)
		}
		selects := strings.Count(strings.Join(modeNames(c.Layers), ","), "select")
		if n > 4 && (selects < 1 || selects > 3 || c.Layers[0] != Full || c.Layers[1] != Full) {
			t.Fatalf("%d layers: %v", n, c.Layers)
		}
		if n <= 4 && selects != 0 {
			t.Fatalf("%d layers: %v", n, c.Layers)
		}
	}
	if got := DefaultConfig(24).Layers; got[2] != Select || got[12] != Select || got[19] != Select {
		t.Fatalf("24 layers: %v", modeNames(got))
	}
}

func modeNames(ms []Mode) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.String())
	}
	return out
}

func TestConfigJSONAndValidate(t *testing.T) {
	c := DefaultConfig(8)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Layers, c.Layers) ||
		back.Budget != c.Budget || back.Recent != c.Recent {
		t.Fatalf("%s read back as %+v (%v)", b, back, err)
	}
	for _, bad := range []string{
		`{"layers":["full","sparse"],"budget":64,"recent":8}`, // sparse with no select below
		`{"layers":["full","select"],"budget":0,"recent":8}`,
		`{"layers":["full","select"],"budget":64,"recent":0}`,
		`{"layers":["full"],"budget":64,"recent":8}`, // one mode for two layers
	} {
		var c Config
		if err := json.Unmarshal([]byte(bad), &c); err != nil {
			t.Fatalf("%s: %v", bad, err)
		}
		if err := c.Validate(2); err == nil {
			t.Errorf("%s: valid", bad)
		}
	}
	var c2 Config
	if err := json.Unmarshal([]byte(`{"layers":["full","dense"]}`), &c2); err == nil {
		t.Error("an unknown mode was read")
	}
}

func TestPageScores(t *testing.T) {
	// Two heads over 5 tokens, pages of 2: page scores are sums of per-token maxima.
	probs := []float32{
		0.1, 0.4, 0.2, 0.1, 0.2, 9, // head 0 (stride 6; the 6th value is past n)
		0.3, 0.1, 0.1, 0.4, 0.1, 9, // head 1
	}
	scores := make([]float32, 4)
	scores[3] = 7 // past the pages of n: left alone
	PageScores(probs, 2, 6, 5, 2, scores)
	want := []float32{0.3 + 0.4, 0.2 + 0.4, 0.2, 7}
	for i := range want {
		if d := scores[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("scores %v, want %v", scores, want)
		}
	}
}

// Pick keeps the recent pages and the best older ones, in order; with few pages, all of them.
func TestPick(t *testing.T) {
	c := Config{Budget: 3, Recent: 2}
	all := c.Pick(nil, 5, nil)
	if !slices.Equal(all, []int32{0, 1, 2, 3, 4}) || c.Active(5*16, 16) {
		t.Fatalf("5 pages: %v, active %v", all, c.Active(5*16, 16))
	}
	if !c.Active(5*16+1, 16) {
		t.Fatal("6 pages are not active")
	}
	scores := []float32{0.5, 0.1, 0.9, 0.1, 0.7, 0.0, 0.3, 0.2}
	got := c.Pick(scores, 8, nil)
	if want := []int32{0, 2, 4, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("picked %v, want %v", got, want)
	}
	// Ties go to the earlier page; the recent pages are kept whatever their score.
	tied := []float32{1, 1, 1, 1, 1, 1, 0, 0}
	if got := c.Pick(tied, 8, nil); !slices.Equal(got, []int32{0, 1, 2, 6, 7}) {
		t.Fatalf("ties: %v", got)
	}
	// Against a brute-force reference on random scores.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		pages := 1 + rng.IntN(300)
		c := Config{Budget: 1 + rng.IntN(40), Recent: 1 + rng.IntN(10)}
		s := make([]float32, pages)
		for i := range s {
			s[i] = float32(rng.IntN(50)) / 10
		}
		got := c.Pick(s, pages, nil)
		if !slices.IsSorted(got) {
			t.Fatalf("not in order: %v", got)
		}
		if pages <= c.Recent+c.Budget {
			if len(got) != pages {
				t.Fatalf("%d pages: %d picked", pages, len(got))
			}
			continue
		}
		if len(got) != c.Recent+c.Budget {
			t.Fatalf("%d picked, want %d", len(got), c.Recent+c.Budget)
		}
		kept := map[int32]bool{}
		for _, p := range got {
			kept[p] = true
		}
		for p := pages - c.Recent; p < pages; p++ {
			if !kept[int32(p)] {
				t.Fatalf("recent page %d left out", p)
			}
		}
		// No page left out beats a kept older page (or ties it from earlier).
		for p := 0; p < pages-c.Recent; p++ {
			if kept[int32(p)] {
				continue
			}
			for _, q := range got {
				if int(q) >= pages-c.Recent {
					continue
				}
				if s[p] > s[q] || (s[p] == s[q] && p < int(q)) {
					t.Fatalf("page %d (%v) left out, page %d (%v) kept", p, s[p], q, s[q])
				}
			}
		}
	}
}

func TestLayerDistancesAndPlacement(t *testing.T) {
	maps := [][]float32{{1, 0}, {1, 0}, {0, 1}, {0, 1}, {1, 1}, {1, 1}}
	d := LayerDistances(maps)
	want := []float64{0, 0, 1, 0, 1 - 1/1.4142135623730951, 0}
	for i := range want {
		if diff := d[i] - want[i]; diff > 1e-9 || diff < -1e-9 {
			t.Fatalf("distances %v, want %v", d, want)
		}
	}
	// Peaks at 2 and 4; with two full layers, layer 2 is the first select anyway, and the
	// second select goes to the other peak.
	c := ConfigFromDistances(d, 2, 2)
	if err := c.Validate(6); err != nil {
		t.Fatal(err)
	}
	if got := modeNames(c.Layers); strings.Join(got, ",") != "full,full,select,sparse,select,sparse" {
		t.Fatalf("placement %v", got)
	}
	c = ConfigFromDistances([]float64{0, 0.1, 0.5, 0.2, 0.9, 0.3, 0.8, 0.1}, 1, 3)
	if got := strings.Join(modeNames(c.Layers), ","); got != "full,select,sparse,sparse,select,sparse,select,sparse" {
		t.Fatalf("placement %s", got)
	}
}
