package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemm checks gemm (the AVX2 kernels where the CPU has them, with their row and column
// remainders) and the portable loops against a float64 product, with padded leading
// dimensions and offsets.
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{1, 16, 1}, {6, 16, 3}, {7, 33, 5}, {13, 48, 300}, {31, 70, 129}, {64, 256, 64},
		{5, 15, 7}, {12, 1040, 200}} {
		for _, avx := range []bool{true, false} {
			if avx && !useAVX2 {
				continue
			}
			M, N, K := s[0], s[1], s[2]
			t.Run(fmt.Sprintf("%dx%dx%d,avx=%v", M, N, K, avx), func(t *testing.T) {
				lda, ldb, ldc := K+3, N+5, N+1
				a := make([]float32, M*lda)
				b := make([]float32, K*ldb)
				c := make([]float32, M*ldc)
				for _, v := range [][]float32{a, b, c} {
					for i := range v {
						v[i] = float32(rng.NormFloat64())
					}
				}
				want := make([]float64, len(c))
				for i := 0; i < M; i++ {
					for j := 0; j < ldc; j++ {
						want[i*ldc+j] = float64(c[i*ldc+j])
						if j >= N {
							continue
						}
						for p := 0; p < K; p++ {
							want[i*ldc+j] += float64(a[i*lda+p]) * float64(b[p*ldb+j])
						}
					}
				}
				saved := useAVX2
				useAVX2 = avx
				defer func() { useAVX2 = saved }()
				c0 := append([]float32(nil), c...)
				gemm(M, N, K, a, lda, b, ldb, c, ldc)
				check := func(what string) {
					for i := range c {
						if d := math.Abs(float64(c[i]) - want[i]); d > 1e-4*math.Sqrt(float64(K))+1e-5 {
							t.Fatalf("%s: c[%d] = %v, want %v", what, i, c[i], want[i])
						}
					}
				}
				check("gemm")
				// The same product with A stored transposed, [K, M] with a padded stride.
				ldt := M + 2
				at := make([]float32, K*ldt)
				for i := 0; i < M; i++ {
					for p := 0; p < K; p++ {
						at[p*ldt+i] = a[i*lda+p]
					}
				}
				copy(c, c0)
				gemmT(M, N, K, at, ldt, b, ldb, c, ldc)
				check("gemmT")
			})
		}
	}
}

// TestGradientsMediumShape repeats the finite-difference check on a shape whose products go
// through the AVX2 kernels (16-wide columns, 6-row blocks and remainders), on a sample of
// each tensor's entries.
func TestGradientsMediumShape(t *testing.T) {
	for _, avx := range []bool{true, false} {
		if avx && !useAVX2 {
			continue
		}
		t.Run(fmt.Sprintf("avx=%v", avx), func(t *testing.T) {
			saved := useAVX2
			useAVX2 = avx
			defer func() { useAVX2 = saved }()
			cfg := tinyConfig(true, false)
			cfg.VocabSize, cfg.HiddenSize, cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim, cfg.FFNSize = 37, 32, 4, 2, 16, 48
			m := roughModel(cfg, 8)
			for _, tt := range m.Tensors(&m.Config) { // std 0.4 is too much at hidden 32
				if len(tt.Shape) == 2 {
					for i := range tt.Data {
						tt.Data[i] *= 0.5
					}
				}
			}
			rng := rand.New(rand.NewPCG(9, 9))
			tokens, mask := randomBatch(rng, 3, 19, cfg.VocabSize, true)
			g := NewGrads(m)
			loss, _, err := m.Step(tokens, mask, g)
			if err != nil {
				t.Fatal(err)
			}
			ref := toRef(m)
			if want := refLoss(&cfg, ref, tokens, mask); math.Abs(loss-want) > 1e-5*want {
				t.Fatalf("loss %.8g, reference %.8g", loss, want)
			}
			const h = 1e-5
			for _, gt := range g.Tensors(&cfg) {
				p := ref[gt.Name]
				var diff2, ref2 float64
				for s := 0; s < 12; s++ {
					i := rng.IntN(len(p))
					save := p[i]
					p[i] = save + h
					lp := refLoss(&cfg, ref, tokens, mask)
					p[i] = save - h
					lm := refLoss(&cfg, ref, tokens, mask)
					p[i] = save
					fd := (lp - lm) / (2 * h)
					d := float64(gt.Data[i]) - fd
					diff2 += d * d
					ref2 += fd * fd
				}
				if rel := math.Sqrt(diff2 / ref2); !(rel < 1e-3) {
					t.Errorf("%s: relative error %.3g on a sample", gt.Name, rel)
				}
			}
		})
	}
}

func TestExpf(t *testing.T) {
	var worst float64
	for x := float32(-87); x < 88.7; x += 0.0137 {
		want := math.Exp(float64(x))
		rel := math.Abs(float64(expf(x))-want) / want
		worst = math.Max(worst, rel)
	}
	if worst > 5e-7 {
		t.Errorf("expf: worst relative error %.3g", worst)
	}
	if expf(-100) != 0 || !math.IsInf(float64(expf(100)), 1) || expf(0) != 1 {
		t.Errorf("expf at the edges: %v %v %v", expf(-100), expf(100), expf(0))
	}
}
