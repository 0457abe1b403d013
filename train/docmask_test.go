package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaskDocuments: with documents masked, a row packing A, the separator and B trains
// exactly as the rows [A, sep] and [B] apart: B's logits are those of B alone (positions
// restart, nothing of A is seen), and the loss and every gradient are the two rows' combined
// (the target after the separator weighted 0, as the packing gives it). Without the mask the
// packed row differs.
func TestMaskDocuments(t *testing.T) {
	for _, qk := range []bool{false, true} {
		cfg := tinyConfig(qk, !qk)
		const sep = 10
		rng := rand.New(rand.NewPCG(7, 8))
		doc := func(n int) ([]int32, []float32) {
			toks, mask := make([]int32, n), make([]float32, n)
			for i := range toks {
				toks[i] = int32(rng.IntN(sep)) // never the separator
				mask[i] = float32(i % 2)
			}
			return toks, mask
		}
		a, am := doc(5)
		b, bm := doc(6)
		packed := append(append(append([]int32{}, a...), sep), b...)
		pm := append(append(append([]float32{}, am...), 0), bm...)
		pm[len(a)+1] = 0 // B's first token, predicted from the separator
		bm0 := append([]float32{}, bm...)
		bm0[0] = 0

		m := roughModel(cfg, 11)
		m.MaskDocuments(sep)
		V := cfg.VocabSize
		lp, err := m.Logits([][]int32{packed})
		if err != nil {
			t.Fatal(err)
		}
		lp = append([]float32{}, lp...)
		lb, _ := m.Logits([][]int32{b})
		for i := range b {
			for v := range V {
				got, want := lp[(len(a)+1+i)*V+v], lb[i*V+v]
				if math.Abs(float64(got-want)) > 1e-5*(1+math.Abs(float64(want))) {
					t.Fatalf("qk %v: B's token %d logit %d: packed %v, alone %v", qk, i, v, got, want)
				}
			}
		}

		gp, ga, gb := NewGrads(m), NewGrads(m), NewGrads(m)
		loss, n, err := m.Step([][]int32{packed}, [][]float32{pm}, gp)
		if err != nil {
			t.Fatal(err)
		}
		lossA, nA, _ := m.Step([][]int32{append(append([]int32{}, a...), sep)}, [][]float32{append(append([]float32{}, am...), 0)}, ga)
		lossB, nB, _ := m.Step([][]int32{b}, [][]float32{bm0}, gb)
		if n != nA+nB || math.Abs(loss*float64(n)-(lossA*float64(nA)+lossB*float64(nB))) > 1e-5*loss*float64(n) {
			t.Fatalf("qk %v: packed loss %v over %d, apart %v over %d and %v over %d", qk, loss, n, lossA, nA, lossB, nB)
		}
		gp.Scale(float32(n))
		ga.Scale(float32(nA))
		gb.Scale(float32(nB))
		tp, ta, tb := gp.Tensors(&cfg), ga.Tensors(&cfg), gb.Tensors(&cfg)
		for i := range tp {
			for j, g := range tp[i].Data {
				want := ta[i].Data[j] + tb[i].Data[j]
				if math.Abs(float64(g-want)) > 1e-4*(math.Abs(float64(want))+1e-3) {
					t.Fatalf("qk %v: %s[%d]: packed %v, apart %v", qk, tp[i].Name, j, g, want)
				}
			}
		}

		// Without the mask, B sees A: its logits change.
		plain := roughModel(cfg, 11)
		lq, _ := plain.Logits([][]int32{packed})
		if math.Abs(float64(lq[(len(a)+1)*V]-lb[0])) < 1e-6 {
			t.Fatalf("qk %v: without the mask B's first logit is still B's alone", qk)
		}
	}
}
