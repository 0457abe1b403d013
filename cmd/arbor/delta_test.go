package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
	"github.com/arborlabs/arbor/runtime/model/demo"
	"github.com/arborlabs/arbor/runtime/sparse"
)

// deltaTestLayers: the tiny shape has two layers, too few for a sparse layer; six give
// sparse.DefaultConfig's full, full, select, select, sparse, select.
const deltaTestLayers = 6

// deltaTestModel writes the tiny shape with six layers and the built-in tokenizer as GGUF, as
// `arbor model new` would if it took a depth.
func deltaTestModel(t *testing.T) string {
	t.Helper()
	cfg, err := model.Shape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumLayers = deltaTestLayers
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = max(cfg.VocabSize, tok.VocabSize())
	cfg.EOS = tok.EOS()
	w, err := model.NewRandom(&cfg, model.F32, 5)
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := tok.GGUF()
	if err != nil {
		t.Fatal(err)
	}
	vocab.PadTo(cfg.VocabSize)
	path := filepath.Join(t.TempDir(), "deep.gguf")
	if err := model.WriteGGUF(path, &cfg, w, vocab, "arbor-random-tiny-6"); err != nil {
		t.Fatal(err)
	}
	return path
}

// deltaTestData writes prompts of a few hundred tokens each (the Qwen tokenizer splits numbers
// into digits), separated by blank lines: 16-token pages, so a budget of a few pages is active.
func deltaTestData(t *testing.T, prompts int) string {
	t.Helper()
	var b strings.Builder
	for p := range prompts {
		if p > 0 {
			b.WriteString("\n\n")
		}
		for i := range 40 {
			fmt.Fprintf(&b, "Item %d of list %d costs %d coins.\n", i, p, (i*37+p*11)%1000)
		}
	}
	path := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDeltaCalibrate(t *testing.T) {
	path, data := deltaTestModel(t), deltaTestData(t, 2)
	out := filepath.Join(t.TempDir(), "sparse.json")
	stdout, stderr, err := arbor(t, "", "delta", "calibrate", "--model", path, "--data", data, "--out", out,
		"--threads", "2", "--positions", "8", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res deltaCalibrateResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if res.Prompts != 2 || res.Positions != 16 || len(res.Distances) != deltaTestLayers || res.Distances[0] != 0 {
		t.Fatalf("result %+v", res)
	}
	for l, d := range res.Distances[1:] {
		if !(d >= 0 && d <= 1) { // probabilities are non-negative: cos in [0, 1]
			t.Fatalf("layer %d: distance %g", l+1, d)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var cfg sparse.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if err := cfg.Validate(deltaTestLayers); err != nil {
		t.Fatal(err)
	}
	// Placed where ConfigFromDistances places them: two full layers, then three select layers
	// (DefaultConfig's count at this depth), the default budget and window.
	want := sparse.ConfigFromDistances(res.Distances, 2, 3)
	if !slices.Equal(cfg.Layers, want.Layers) || cfg.Budget != sparse.DefaultBudget ||
		cfg.Recent != sparse.DefaultRecent {
		t.Fatalf("config %s, want the layers of %+v", b, want)
	}
	if n := strings.Count(string(b), `"select"`); n != 3 {
		t.Fatalf("%d select layers in %s", n, b)
	}

	// The table names every layer's mode, and the flags change what is written.
	stdout, _, err = arbor(t, "", "delta", "calibrate", "--model", path, "--data", data, "--out", out,
		"--threads", "2", "--positions", "4", "--select", "2", "--full", "1", "--sparse-budget", "5",
		"--sparse-recent", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"layer", "select", "sparse", "wrote " + out, "random weights"} {
		if !strings.Contains(stdout, s) {
			t.Fatalf("calibrate's table lacks %q:\n%s", s, stdout)
		}
	}
	b, _ = os.ReadFile(out)
	cfg = sparse.Config{}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Layers[0] != sparse.Full || cfg.Layers[1] != sparse.Select || cfg.Budget != 5 || cfg.Recent != 2 ||
		strings.Count(string(b), `"select"`) != 2 {
		t.Fatalf("--select 2 --full 1 --sparse-budget 5 --sparse-recent 2 wrote %s", b)
	}
}

// TestDeltaDistancesExact: the incremental sums give sparse.LayerDistances' result, bit for
// bit, over the maps of every probed token concatenated.
func TestDeltaDistancesExact(t *testing.T) {
	m, err := model.Load(deltaTestModel(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompts, err := deltaReadData(deltaTestData(t, 2), false, m.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newDeltaRunner(m, 2, deltaMaxLen(prompts))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	acc := newDeltaDistances(deltaTestLayers)
	maps := make([][]float32, deltaTestLayers)
	for _, ids := range prompts {
		err := deltaCalibratePrompt(r, ids, 5, func(e *backend.AttentionProbe) {
			if err := acc.add(e); err != nil {
				t.Fatal(err)
			}
			maps[e.Layer] = append(maps[e.Layer], e.Probs[:e.Heads*e.N]...)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, want := acc.distances(), sparse.LayerDistances(maps)
	if !slices.Equal(got, want) || acc.tokens != 10 {
		t.Fatalf("incremental distances %v (%d tokens), LayerDistances %v", got, acc.tokens, want)
	}
	if want[1] == 0 {
		t.Fatal("layers 0 and 1 attend identically: the maps are degenerate")
	}
}

type deltaEvalJSON struct {
	Positions       int `json:"positions"`
	SparsePositions int `json:"sparse_positions"`
	DensePositions  int `json:"dense_positions"`
	Layers          []struct {
		Layer           int      `json:"layer"`
		MassShare       float64  `json:"mass_share"`
		MassShareSparse *float64 `json:"mass_share_sparse"`
		MinMassShare    float64  `json:"min_mass_share"`
	} `json:"layers"`
	KLMean       float64  `json:"kl_mean"`
	KLMeanSparse *float64 `json:"kl_mean_sparse"`
	KLMax        float64  `json:"kl_max"`
	AttendedMean float64  `json:"attended_mean"`
	ContextMean  float64  `json:"context_mean"`
}

func deltaEvalRun(t *testing.T, args ...string) (deltaEvalJSON, string) {
	t.Helper()
	stdout, stderr, err := arbor(t, "", append([]string{"delta", "eval", "--threads", "2", "--positions", "6",
		"--json"}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res deltaEvalJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	return res, stderr
}

func TestDeltaEval(t *testing.T) {
	path, data := deltaTestModel(t), deltaTestData(t, 2)

	// A budget that covers every context: the sparse runs are the full ones, exactly.
	res, stderr := deltaEvalRun(t, "--model", path, "--data", data, "--sparse-budget", "100")
	if res.Positions != 12 || res.DensePositions != 12 || res.SparsePositions != 0 || res.KLMean != 0 ||
		res.KLMax != 0 || res.KLMeanSparse != nil || res.AttendedMean != res.ContextMean {
		t.Fatalf("wide budget: %+v", res)
	}
	if !strings.Contains(stderr, "12 of 12 probed positions") || !strings.Contains(stderr, "NO position") {
		t.Fatalf("wide budget: stderr does not warn: %q", stderr)
	}
	// DefaultConfig(6): full, full, select, select, sparse, select.
	if len(res.Layers) != 1 || res.Layers[0].Layer != 4 {
		t.Fatalf("wide budget: layers %+v", res.Layers)
	}
	for _, l := range res.Layers {
		if l.MassShare != 1 || l.MinMassShare != 1 || l.MassShareSparse != nil {
			t.Fatalf("wide budget: layer %+v", l)
		}
	}

	// Two pages and the last one of contexts of 10+ pages: every position attends sparsely.
	cfgPath := filepath.Join(t.TempDir(), "cfg.json")
	cfg := sparse.Config{Layers: []sparse.Mode{sparse.Full, sparse.Select, sparse.Sparse, sparse.Sparse,
		sparse.Select, sparse.Sparse}, Budget: 64, Recent: 8}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, stderr = deltaEvalRun(t, "--model", path, "--data", data, "--sparse-config", cfgPath,
		"--sparse-budget", "2", "--sparse-recent", "1")
	if res.Positions != 12 || res.SparsePositions != 12 || strings.Contains(stderr, "WARNING") {
		t.Fatalf("small budget: %+v\n%s", res, stderr)
	}
	if len(res.Layers) != 3 || res.Layers[0].Layer != 2 || res.Layers[2].Layer != 5 {
		t.Fatalf("small budget: layers %+v", res.Layers)
	}
	for _, l := range res.Layers {
		if !(l.MassShare > 0 && l.MassShare < 1) || l.MassShareSparse == nil || *l.MassShareSparse != l.MassShare ||
			!(l.MinMassShare > 0 && l.MinMassShare <= l.MassShare) {
			t.Fatalf("small budget: layer %+v", l)
		}
	}
	if !(res.KLMean > 0) || res.KLMeanSparse == nil || *res.KLMeanSparse != res.KLMean || res.KLMax < res.KLMean ||
		!(res.AttendedMean < res.ContextMean) {
		t.Fatalf("small budget: %+v", res)
	}

	// The table says the same, and that random weights make it mean little.
	stdout, _, err := arbor(t, "", "delta", "eval", "--model", path, "--data", data, "--threads", "2",
		"--positions", "2", "--sparse-budget", "2", "--sparse-recent", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"4 attended sparsely, 0 fully", "KL(full || sparse)", "random weights"} {
		if !strings.Contains(stdout, s) {
			t.Fatalf("eval's table lacks %q:\n%s", s, stdout)
		}
	}
}

// TestDeltaEvalFullRunsExact: eval's full-attention decodes, each run after a sparse decode of
// the same token, give the logits of a run that never attended sparsely, bit for bit (the
// sparse run's keys and values for the token are overwritten before anything reads them).
func TestDeltaEvalFullRunsExact(t *testing.T) {
	m, err := model.Load(deltaTestModel(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompts, err := deltaReadData(deltaTestData(t, 1), false, m.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	ids := prompts[0]
	r, err := newDeltaRunner(m, 2, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg := sparse.DefaultConfig(deltaTestLayers)
	cfg.Budget, cfg.Recent = 2, 1
	ev := newDeltaEval(&cfg, deltaTestLayers)
	var got [][]float32
	ev.fullLogits = func(p int, logits []float32) { got = append(got, slices.Clone(logits)) }
	if err := ev.prompt(r, ids, 4); err != nil {
		t.Fatal(err)
	}
	if ev.sparsePositions != 4 || !(ev.kl > 0) {
		t.Fatalf("%d sparse positions, KL sum %g: the sparse runs changed nothing", ev.sparsePositions, ev.kl)
	}
	first := deltaFirstProbed(len(ids), 4)
	if err := r.prefill(ids[:first]); err != nil {
		t.Fatal(err)
	}
	for i, p := 0, first; p < len(ids); i, p = i+1, p+1 {
		want, _, err := r.decode(ids, p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[i], want) {
			t.Fatalf("position %d: eval's full logits differ from a full-only run's", p)
		}
	}
}

func TestDeltaKLAndShare(t *testing.T) {
	p := []float32{1, 2, 3, -1}
	if kl := deltaKL(p, p); kl != 0 {
		t.Fatalf("KL(p || p) = %g", kl)
	}
	q := []float32{3, 2, 1, -1}
	// By hand: softmax in float64, then sum p (log p - log q).
	sm := func(x []float32) []float64 {
		s, out := 0.0, make([]float64, len(x))
		for i, v := range x {
			out[i] = math.Exp(float64(v))
			s += out[i]
		}
		for i := range out {
			out[i] /= s
		}
		return out
	}
	pp, qq := sm(p), sm(q)
	want := 0.0
	for i := range pp {
		want += pp[i] * math.Log(pp[i]/qq[i])
	}
	if kl := deltaKL(p, q); math.Abs(kl-want) > 1e-12 || kl <= 0 {
		t.Fatalf("KL %g, want %g", kl, want)
	}

	// Two heads over 5 slots in pages of 2: pages 0 and 2 are slots 0, 1 and 4.
	e := &backend.AttentionProbe{Heads: 2, N: 5, Probs: []float32{0.1, 0.2, 0.3, 0.3, 0.1, 0.5, 0, 0, 0, 0.5},
		Picked: []int32{0, 2}}
	if s := deltaMassShare(e, 2); math.Abs(s-(0.4+1)/2) > 1e-7 {
		t.Fatalf("share %g, want 0.7", s)
	}
	e.Picked = []int32{0, 1, 2}
	if s := deltaMassShare(e, 2); s != 1 {
		t.Fatalf("every page picked: share %g", s)
	}
	e.Picked = nil
	if s := deltaMassShare(e, 2); s != 1 {
		t.Fatalf("dense: share %g", s)
	}
}

func TestDeltaData(t *testing.T) {
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := write("a.txt", "Hello there.\nSecond line.\n\n  \nAnother prompt.\n")
	got, err := deltaReadData(text, false, tok)
	if err != nil || len(got) != 2 || !slices.Equal(got[1], tok.Encode("Another prompt.")) ||
		!slices.Equal(got[0], tok.Encode("Hello there.\nSecond line.")) {
		t.Fatalf("blank-line split: %v, %v", got, err)
	}
	got, err = deltaReadData(text, true, tok)
	whole := tok.Encode("Hello there.\nSecond line.\n\n  \nAnother prompt.")
	if err != nil || len(got) != 1 || !slices.Equal(got[0], whole) {
		t.Fatalf("--whole-text: %v, %v", got, err)
	}

	jsonl := write("b.jsonl", `{"prompt": "Hi"}`+"\n\n"+`{"text": "Bye"}`+"\n"+
		`{"messages": [{"role": "user", "content": "Hi"}]}`+"\n")
	got, err = deltaReadData(jsonl, false, tok)
	if err != nil || len(got) != 3 || !slices.Equal(got[0], tok.Encode("Hi")) ||
		!slices.Equal(got[1], tok.Encode("Bye")) {
		t.Fatalf("jsonl: %v, %v", got, err)
	}
	// Qwen3's template, as generate --chat renders it: <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n.
	if want := tok.Encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"); !slices.Equal(got[2], want) {
		t.Fatalf("messages: %v, want %v", got[2], want)
	}
	for _, bad := range []string{`{"prompt": "a"}` + "\nnot json\n", `{"other": 1}` + "\n", "   \n"} {
		if _, err := deltaReadData(write("bad.jsonl", bad), false, tok); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestDeltaBadInvocations(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.txt")
	if err := os.WriteFile(data, []byte("Hello there, a prompt.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badCfg, []byte(`{"layers": ["full", "sparse"], "budget": 1, "recent": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "o.json")
	for _, args := range [][]string{
		{"delta"},
		{"delta", "tune"},
		{"delta", "calibrate", "--data", data},
		{"delta", "calibrate", "--out", out},
		{"delta", "calibrate", "--data", data, "--out", out, "--full", "9"},
		{"delta", "calibrate", "--data", filepath.Join(dir, "missing"), "--out", out},
		{"delta", "eval"},
		{"delta", "eval", "--data", data, "--sparse-config", badCfg},
		{"delta", "eval", "--data", data, "--sparse-budget", "-1"},
		{"delta", "eval", "--data", data, "--max-tokens", "1"},
		{"delta", "eval", "--data", data, "stray"},
	} {
		if _, _, err := arbor(t, "", args...); err == nil {
			t.Errorf("arbor %v: no error", args)
		}
	}
}

// TestDeltaEvalSlidingWindow: under a sliding window the selection picks among the window's
// pages: the context is the window, sparse layers attend to less of it, and the picked pages'
// mass is counted inside the window (a share in (0, 1)).
func TestDeltaEvalSlidingWindow(t *testing.T) {
	cfg, err := model.Shape("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumLayers = deltaTestLayers
	w, err := model.NewRandom(&cfg, model.F32, 9)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, 120)
	for i := range ids {
		ids[i] = int32((i*131 + 7) % cfg.VocabSize)
	}
	sp := sparse.DefaultConfig(deltaTestLayers)
	sp.Budget, sp.Recent = 2, 1
	for _, window := range []int{0, 64} {
		c := cfg
		c.SlidingWindow = window
		m := &model.Model{Config: c, Weights: *w}
		r, err := newDeltaRunner(m, 2, len(ids))
		if err != nil {
			t.Fatal(err)
		}
		ev := newDeltaEval(&sp, deltaTestLayers)
		if err := ev.prompt(r, ids, 4); err != nil {
			t.Fatal(err)
		}
		r.Close()
		res := ev.result(1)
		sparseRan := res.AttendedMean < res.ContextMean
		if window == 0 && (res.SparsePositions != 4 || !sparseRan || !(res.KLMean > 0)) {
			t.Fatalf("no window: %+v", res)
		}
		if window > 0 && (res.SparsePositions != 4 || !sparseRan || res.ContextMean != float64(window) ||
			!(res.KLMean > 0)) {
			t.Fatalf("window %d: %+v", window, res)
		}
		for _, l := range res.Layers {
			if !(l.MassShare > 0 && l.MassShare < 1) {
				t.Fatalf("window %d: layer %+v: mass share outside (0, 1)", window, l)
			}
		}
	}
}
