// Package sparse holds the host-side policy of DELTA sparse attention for long decodes: which
// layers attend to the whole context (full), which also pick the KV pages that matter
// (select), and which attend only to the pages the latest select layer below them picked
// (sparse); how a select layer scores and picks pages; and how a calibration run places the
// select layers. Backends run the attention; the policy is here once, so that every backend
// selects the same pages.
//
// A page's score is the sum over its tokens of the largest softmax probability any query head
// of the sequence gives that token. A selection keeps the last Recent pages and the Budget
// best-scored others, in logical order. Below Recent+Budget pages a sequence attends densely,
// so short contexts are untouched. Nothing is evicted: unselected pages stay in the cache and
// may be picked again at the next step.
package sparse

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Mode is a layer's attention mode.
type Mode uint8

const (
	Full   Mode = iota // attend to every page
	Select             // attend to every page, and pick the pages the sparse layers above read
	Sparse             // attend to the pages the latest select layer below picked
)

func (m Mode) String() string {
	switch m {
	case Full:
		return "full"
	case Select:
		return "select"
	case Sparse:
		return "sparse"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Defaults of a selection: the last 8 pages and the 64 best others (16-token pages: 1,152
// tokens of a context of any length).
const (
	DefaultRecent = 8
	DefaultBudget = 64
)

// Config is a model's sparse-attention setup, as a calibration writes it and serve, generate
// and bench load it.
type Config struct {
	Layers []Mode
	Budget int // best-scored pages kept besides the recent ones
	Recent int // last pages always kept
}

type configJSON struct {
	Layers []string `json:"layers"`
	Budget int      `json:"budget"`
	Recent int      `json:"recent"`
}

// MarshalJSON writes {"layers": ["full", "select", "sparse", ...], "budget": K, "recent": L}.
func (c Config) MarshalJSON() ([]byte, error) {
	j := configJSON{Budget: c.Budget, Recent: c.Recent}
	for _, m := range c.Layers {
		j.Layers = append(j.Layers, m.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; Validate checks it against a model.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	c.Layers = c.Layers[:0]
	for i, s := range j.Layers {
		switch strings.ToLower(s) {
		case "full":
			c.Layers = append(c.Layers, Full)
		case "select":
			c.Layers = append(c.Layers, Select)
		case "sparse":
			c.Layers = append(c.Layers, Sparse)
		default:
			return fmt.Errorf("layers[%d]: %q is not full, select or sparse", i, s)
		}
	}
	c.Budget, c.Recent = j.Budget, j.Recent
	return nil
}

// Validate checks c for a model of numLayers layers: one mode per layer, a sparse layer only
// above a select layer (it reads that layer's pages), a positive budget and a recent window
// of at least one page (the newest token's own page is always attended).
func (c *Config) Validate(numLayers int) error {
	if len(c.Layers) != numLayers {
		return fmt.Errorf("sparse config: %d layer modes for a model of %d layers", len(c.Layers), numLayers)
	}
	if c.Budget < 1 || c.Recent < 1 {
		return fmt.Errorf("sparse config: budget %d and recent %d must be at least 1", c.Budget, c.Recent)
	}
	selected := false
	for i, m := range c.Layers {
		switch {
		case m > Sparse:
			return fmt.Errorf("sparse config: layer %d has an unknown mode %d", i, m)
		case m == Select:
			selected = true
		case m == Sparse && !selected:
			return fmt.Errorf("sparse config: layer %d is sparse but no select layer is below it", i)
		}
	}
	return nil
}

// paperSelect are DELTA's select layers for a 28-layer model (layers 0 and 1 full, the rest
// sparse).
var paperSelect = []int{2, 14, 22}

const paperLayers, paperFull = 28, 2

// DefaultConfig scales DELTA's placement to a model of numLayers layers: the first two
// layers full, the third select, two more select layers at the paper's relative depths, the
// rest sparse. Models of four
// layers or fewer get no sparse layer (all full).
func DefaultConfig(numLayers int) Config {
	c := Config{Layers: make([]Mode, numLayers), Budget: DefaultBudget, Recent: DefaultRecent}
	if numLayers <= 4 {
		return c // all Full
	}
	for i := paperFull; i < numLayers; i++ {
		c.Layers[i] = Sparse
	}
	// The first select layer is the first after the full ones, as in the paper (sparse layers
	// need one below them); the others keep the paper's relative depths.
	c.Layers[paperFull] = Select
	for _, p := range paperSelect[1:] {
		at := int(math.Round(float64(p) * float64(numLayers) / paperLayers))
		c.Layers[min(max(at, paperFull), numLayers-1)] = Select
	}
	return c
}

// Active reports whether a sequence of n context tokens attends sparsely: only when its pages
// outnumber the ones a selection keeps. Below that, sparse layers attend to every page and
// the result is the full attention's, bit for bit.
func (c *Config) Active(n, pageSize int) bool {
	return (n+pageSize-1)/pageSize > c.Recent+c.Budget
}

// PageScores adds, for one select layer and one decoding token, each page's score into
// scores (len >= the pages of n tokens): probs holds the softmax probabilities of the
// sequence's query heads over its n context tokens in logical order, head h's at
// probs[h*stride : h*stride+n]. A page's score is the sum over its tokens of the largest
// probability any head gives the token.
func PageScores(probs []float32, heads, stride, n, pageSize int, scores []float32) {
	pages := (n + pageSize - 1) / pageSize
	clear(scores[:pages])
	for t := 0; t < n; t++ {
		best := probs[t]
		for h := 1; h < heads; h++ {
			best = max(best, probs[h*stride+t])
		}
		scores[t/pageSize] += best
	}
}

// Pick returns the logical pages a sparse layer attends to, in ascending order, appended to
// dst[:0]: the last c.Recent pages and the c.Budget best-scored others (ties to the earlier
// page). With no more pages than both together, every page.
func (c *Config) Pick(scores []float32, pages int, dst []int32) []int32 {
	dst = dst[:0]
	if pages <= c.Recent+c.Budget {
		for p := range pages {
			dst = append(dst, int32(p))
		}
		return dst
	}
	older := pages - c.Recent
	for p := range older {
		dst = append(dst, int32(p))
	}
	// The Budget best of the older pages: a partial selection sort would be quadratic in the
	// budget; sorting the older pages by score is n log n on a few thousand pages at most.
	slices.SortFunc(dst, func(a, b int32) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return int(a - b)
	})
	dst = dst[:c.Budget]
	slices.Sort(dst)
	for p := older; p < pages; p++ {
		dst = append(dst, int32(p))
	}
	return dst
}

// LayerDistances returns d[l] = 1 - cos(a[l-1], a[l]) for l >= 1 (d[0] = 0): how much each
// layer's attention map differs from the one below it, the signal a calibration places select
// layers by. maps[l] is layer l's attention map over a calibration set, flattened the same way
// for every layer (e.g. each head's probabilities over the context, averaged over tokens).
func LayerDistances(maps [][]float32) []float64 {
	d := make([]float64, len(maps))
	for l := 1; l < len(maps); l++ {
		var dot, na, nb float64
		for i := range maps[l] {
			a, b := float64(maps[l-1][i]), float64(maps[l][i])
			dot += a * b
			na += a * a
			nb += b * b
		}
		if na > 0 && nb > 0 {
			d[l] = 1 - dot/math.Sqrt(na*nb)
		}
	}
	return d
}

// ConfigFromDistances places numSelect select layers at the peaks of d (layer-to-layer
// distances, LayerDistances): a select layer starts where the attention pattern changes, so
// the sparse layers above it read pages picked by a layer that attends as they do. The first
// full layers stay full; the lowest layer after them is always a select layer (sparse layers
// need one below them); the others go to the largest local maxima of d above it, then to the
// largest remaining distances.
func ConfigFromDistances(d []float64, full, numSelect int) Config {
	n := len(d)
	c := Config{Layers: make([]Mode, n), Budget: DefaultBudget, Recent: DefaultRecent}
	if n <= full || numSelect < 1 {
		return c
	}
	for i := full; i < n; i++ {
		c.Layers[i] = Sparse
	}
	c.Layers[full] = Select
	cands := make([]int, 0, n)
	for l := full + 1; l < n; l++ {
		cands = append(cands, l)
	}
	peak := func(l int) bool { return d[l] >= d[l-1] && (l+1 == n || d[l] >= d[l+1]) }
	slices.SortStableFunc(cands, func(a, b int) int {
		if pa, pb := peak(a), peak(b); pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		switch {
		case d[a] > d[b]:
			return -1
		case d[a] < d[b]:
			return 1
		}
		return a - b
	})
	for _, l := range cands[:min(numSelect-1, len(cands))] {
		c.Layers[l] = Select
	}
	return c
}
