package model

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"testing"
)

func TestShapes(t *testing.T) {
	names := ShapeNames()
	for _, want := range []string{"qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b", "qwen3-8b", "tiny",
		"tiny-llama", "tiny-qwen2"} {
		c, err := Shape(want)
		if err != nil {
			t.Fatalf("Shape(%q): %v", want, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if len(names) != 7 {
		t.Errorf("ShapeNames() = %v", names)
	}
	_, err := Shape("gpt-5")
	if err == nil || !strings.Contains(err.Error(), "qwen3-0.6b") {
		t.Errorf("unknown shape: want an error listing the names, got %v", err)
	}
	// Shape returns a copy: changing it leaves the table alone.
	c, _ := Shape("llama-3.2-1b")
	c.RopeScaling.Factor = 1
	c.VocabSize = 1
	c2, _ := Shape("llama-3.2-1b")
	if c2.RopeScaling.Factor != 32 || c2.VocabSize != 128256 {
		t.Error("Shape returned an alias of the table")
	}
	// Parameter counts of the real shapes (embedding counted once when tied).
	for name, want := range map[string]float64{"qwen2.5-0.5b": 0.494e9, "qwen3-0.6b": 0.596e9,
		"llama-3.2-1b": 1.236e9, "qwen3-8b": 8.19e9} {
		c, _ := Shape(name)
		got := float64(paramCount(&c))
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("%s: %.4g parameters, want about %.4g", name, got, want)
		}
	}
}

func paramCount(c *Config) int {
	w := &Weights{}
	n := 0
	for _, s := range slots(c, w) {
		k := 1
		for _, d := range s.shape {
			k *= d
		}
		n += k
	}
	return n
}

func TestNewRandomDeterministic(t *testing.T) {
	cfg := tinyConfig(t, "tiny")
	cfg.VocabSize = 3000 // several chunks for the embedding
	a, err := NewRandom(cfg, Q8_0, 42)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Check(cfg); err != nil {
		t.Fatal(err)
	}
	old := runtime.GOMAXPROCS(1)
	b, err := NewRandom(cfg, Q8_0, 42)
	runtime.GOMAXPROCS(old)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewRandom(cfg, Q8_0, 43)
	sa, sb, sc := slots(cfg, a), slots(cfg, b), slots(cfg, c)
	for i := range sa {
		ta, tb, tc := *sa[i].dst, *sb[i].dst, *sc[i].dst
		if !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("%s differs between runs with the same seed", ta.Name)
		}
		if bytes.Equal(ta.Data, tc.Data) {
			t.Errorf("%s is the same for seeds 42 and 43", ta.Name)
		}
		wantD := Q8_0
		if len(ta.Shape) == 1 {
			wantD = F32
		}
		if ta.DType != wantD {
			t.Errorf("%s is %v, want %v", ta.Name, ta.DType, wantD)
		}
	}
	if a.Output != a.TokenEmbed {
		t.Error("tied config: Output should be TokenEmbed")
	}
	// Distinct tensors of the same shape get distinct values (per-name streams).
	if bytes.Equal(a.Layers[0].Gate.Data, a.Layers[0].Up.Data) || bytes.Equal(a.Layers[0].Q.Data, a.Layers[1].Q.Data) {
		t.Error("two tensors got the same random values")
	}
}

func TestNewRandomStatistics(t *testing.T) {
	cfg := tinyConfig(t, "tiny-llama") // untied
	w, err := NewRandom(cfg, F32, 7)
	if err != nil {
		t.Fatal(err)
	}
	f64 := func(t *Tensor) []float64 {
		var out []float64
		for _, v := range t.Float32s() {
			out = append(out, float64(v))
		}
		return out
	}
	check := func(name string, x []float64, wantMean, wantStd float64) {
		t.Helper()
		m, s := meanStd(x)
		if math.Abs(m-wantMean) > 0.1*wantStd+1e-9 && math.Abs(m-wantMean) > 0.02 || math.Abs(s-wantStd) > 0.1*wantStd {
			t.Errorf("%s: mean %.4g std %.4g, want %.4g and %.4g", name, m, s, wantMean, wantStd)
		}
	}
	H, L := float64(cfg.HiddenSize), float64(cfg.NumLayers)
	check("embedding", f64(w.TokenEmbed), 0, 1)
	check("output", f64(w.Output), 0, randLogitStd/math.Sqrt(H))
	check("q", f64(w.Layers[0].Q), 0, 1/math.Sqrt(H))
	check("o", f64(w.Layers[0].O), 0, 1/math.Sqrt(float64(cfg.NumHeads*cfg.HeadDim))/math.Sqrt(2*L))
	check("down", f64(w.Layers[1].Down), 0, 1/math.Sqrt(float64(cfg.FFNSize))/math.Sqrt(2*L))
	var norm []float64
	for _, l := range w.Layers {
		norm = append(append(norm, f64(l.AttnNorm)...), f64(l.FFNNorm)...)
	}
	check("attn_norm", norm, 1, randNormNoise/math.Sqrt(3))
	for _, v := range norm {
		if v < 1-randNormNoise || v > 1+randNormNoise {
			t.Fatalf("norm weight %v outside 1±%v", v, randNormNoise)
		}
	}
	// qwen2 biases
	q2 := tinyConfig(t, "tiny-qwen2")
	w2, _ := NewRandom(q2, BF16, 7)
	check("q bias", f64(w2.Layers[0].QBias), 0, randBiasStd)
}

// The random weights keep activations sane through every layer and give logits with a spread
// of a few units, for every tiny architecture and dtype.
func TestNewRandomActivations(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-llama", "tiny-qwen2"} {
		for _, d := range []DType{F32, Q8_0} {
			cfg := tinyConfig(t, name)
			cfg.NumLayers = 6 // more depth than the shape has, to see growth
			w, err := NewRandom(cfg, d, 11)
			if err != nil {
				t.Fatal(err)
			}
			layerRMS, logits := newRef(cfg, w).forward([]int{1, 100, 7, 300, 42, 5, 9, 511})
			for i, r := range layerRMS {
				if !(r > 0.1 && r < 100) {
					t.Errorf("%s %v: hidden RMS after layer %d is %v", name, d, i, r)
				}
			}
			_, std := meanStd(logits)
			sorted := append([]float64(nil), logits...)
			top1, top2 := math.Inf(-1), math.Inf(-1)
			for _, v := range sorted {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s: logit %v", name, v)
				}
				if v > top1 {
					top1, top2 = v, top1
				} else if v > top2 {
					top2 = v
				}
			}
			if std < 0.5*randLogitStd || std > 3*randLogitStd {
				t.Errorf("%s %v: logits std %.3g, want about %v", name, d, std, randLogitStd)
			}
			t.Logf("%s %v: layer RMS %.3g, logits std %.3g, top1-top2 %.3g", name, d, layerRMS, std, top1-top2)
		}
	}
}

// BenchmarkNewRandom makes a real-size model (about 0.5 B parameters) as q8_0.
func BenchmarkNewRandom(b *testing.B) {
	cfg, _ := Shape("qwen2.5-0.5b")
	for b.Loop() {
		if _, err := NewRandom(&cfg, Q8_0, 1); err != nil {
			b.Fatal(err)
		}
	}
}
