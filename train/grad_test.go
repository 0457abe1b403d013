package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradientsFiniteDifferences checks every entry of every gradient tensor against central
// differences of the float64 reference loss, on the tiny shape with and without Q/K norms,
// tied and untied, with a loss mask.
func TestGradientsFiniteDifferences(t *testing.T) {
	for _, qk := range []bool{false, true} {
		for _, tied := range []bool{false, true} {
			t.Run(fmt.Sprintf("qknorm=%v,tied=%v", qk, tied), func(t *testing.T) {
				cfg := tinyConfig(qk, tied)
				m := roughModel(cfg, 3)
				rng := rand.New(rand.NewPCG(5, 6))
				tokens, mask := randomBatch(rng, 2, 5, cfg.VocabSize, true)
				g := NewGrads(m)
				loss, counted, err := m.Step(tokens, mask, g)
				if err != nil {
					t.Fatal(err)
				}
				if counted != 3+2 {
					t.Fatalf("counted %d targets, want 5", counted)
				}
				ref := toRef(m)
				want := refLoss(&cfg, ref, tokens, mask)
				if math.Abs(loss-want) > 1e-5*math.Abs(want) {
					t.Fatalf("loss %.8g, reference %.8g", loss, want)
				}
				const h = 1e-5
				for ti, gt := range g.Tensors(&cfg) {
					name := gt.Name
					p := ref[name]
					var diff2, ref2, worst float64
					worstAt := -1
					fd := make([]float64, len(p))
					for i := range p {
						save := p[i]
						p[i] = save + h
						lp := refLoss(&cfg, ref, tokens, mask)
						p[i] = save - h
						lm := refLoss(&cfg, ref, tokens, mask)
						p[i] = save
						fd[i] = (lp - lm) / (2 * h)
						ref2 += fd[i] * fd[i]
					}
					scale := math.Sqrt(ref2 / float64(len(p)))
					for i := range p {
						d := math.Abs(float64(gt.Data[i]) - fd[i])
						diff2 += d * d
						// Per entry: relative to the entry, with a floor at 1% of the tensor's RMS.
						rel := d / math.Max(math.Abs(fd[i]), 1e-2*scale)
						if rel > worst {
							worst, worstAt = rel, i
						}
					}
					rel := math.Sqrt(diff2 / ref2)
					if scale == 0 {
						t.Errorf("%s: finite-difference gradient is all zero", name)
						continue
					}
					if rel > 1e-3 || worst > 1e-2 {
						t.Errorf("%s: relative error %.3g (worst entry %d: %.3g, got %.6g want %.6g)", name, rel, worstAt,
							worst, gt.Data[worstAt], fd[worstAt])
					} else if ti < 3 || testing.Verbose() {
						t.Logf("%s: relative error %.2g, worst entry %.2g (rms grad %.3g)", name, rel, worst, scale)
					}
				}
			})
		}
	}
}

// TestGradientsAccumulate: two Steps add up; a fully masked batch leaves grads alone.
func TestGradientsAccumulate(t *testing.T) {
	cfg := tinyConfig(true, false)
	m := roughModel(cfg, 4)
	rng := rand.New(rand.NewPCG(1, 2))
	tokens, mask := randomBatch(rng, 2, 5, cfg.VocabSize, true)
	g1, g2 := NewGrads(m), NewGrads(m)
	if _, _, err := m.Step(tokens, mask, g1); err != nil {
		t.Fatal(err)
	}
	m.Step(tokens, mask, g2)
	m.Step(tokens, mask, g2)
	zero := [][]float32{make([]float32, 5), make([]float32, 5)}
	if loss, n, _ := m.Step(tokens, zero, g2); loss != 0 || n != 0 {
		t.Fatalf("fully masked batch: loss %v, counted %d", loss, n)
	}
	a, b := g1.Tensors(&cfg), g2.Tensors(&cfg)
	for i := range a {
		for j := range a[i].Data {
			if d := math.Abs(float64(2*a[i].Data[j] - b[i].Data[j])); d > 1e-5*math.Abs(float64(b[i].Data[j]))+1e-7 {
				t.Fatalf("%s[%d]: two steps gave %v, one %v", a[i].Name, j, b[i].Data[j], a[i].Data[j])
			}
		}
	}
}
