package xla

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/backend/conformance"
	"github.com/arborlabs/arbor/runtime/backend/cpu"
	"github.com/arborlabs/arbor/runtime/model"
)

func TestMain(m *testing.M) {
	// Never let gomlx try to download a PJRT plugin; these tests use the pure-Go backend.
	if err := os.Setenv("GOMLX_NO_AUTO_INSTALL", "1"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// testModel is the conformance suite's random model of a shape (vocabulary cut to 384).
func testModel(t testing.TB, shape string, dt model.DType) *model.Model {
	t.Helper()
	m, err := conformance.Model(shape, dt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// logitTolerance is the largest max-abs difference between the two backends' logits allowed,
// relative to the cpu backend's largest |logit|. For f32/f16/bf16 weights both compute in
// float32 from the same exactly dequantized weights and only the order of summation differs
// (measured: below 1e-6). For q8_0 the cpu backend also quantizes activations to 8 bits, as
// ggml does, while this one multiplies dequantized f32 weights by f32 activations; the cpu
// backend's own tests allow 3e-2 against a float64 reference for that.
func logitTolerance(dt model.DType) float64 {
	if dt == model.Q8_0 {
		return 3e-2
	}
	return 1e-4
}

// lastLogits runs b over the whole sequence as one prefill chunk from slot 0 (in page 2) and
// returns its last token's logits.
func lastLogits(t *testing.T, b backend.Backend, tokens, positions []int32) []float32 {
	t.Helper()
	out := [][]float32{make([]float32, b.VocabSize())}
	in := backend.SeqInput{Tokens: tokens, Positions: positions, Start: 0, Pages: []int32{2}, Logits: true}
	if err := b.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, out); err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestPrefillMatchesCPU compares this backend's forward pass with the cpu backend's on the
// same 12-token prefill, for each tiny architecture (Qwen3 q/k norms, Llama 3 RoPE scaling,
// Qwen2 biases, a Mistral window; all with grouped-query attention), with positions in order
// and with a gap (as pruning leaves), and with f32 weights and (for "tiny") f16, bf16 and
// q8_0 ones.
func TestPrefillMatchesCPU(t *testing.T) {
	const n = 12
	inOrder := make([]int32, n)
	withGap := make([]int32, n)
	for i := range inOrder {
		inOrder[i] = int32(i)
		withGap[i] = int32(i)
		if i >= n/2 {
			withGap[i] += 7
		}
	}
	cases := []struct {
		shape string
		dt    model.DType
	}{
		{"tiny", model.F32}, {"tiny-llama", model.F32}, {"tiny-qwen2", model.F32},
		{"tiny-mistral", model.F32}, {"tiny", model.F16}, {"tiny", model.BF16}, {"tiny", model.Q8_0},
	}
	for _, c := range cases {
		t.Run(c.shape+"/"+c.dt.String(), func(t *testing.T) {
			m := testModel(t, c.shape, c.dt)
			r := rand.New(rand.NewPCG(3, 4))
			tokens := make([]int32, n)
			for i := range tokens {
				tokens[i] = int32(r.IntN(m.Config.VocabSize))
			}
			// gomlx's pure-Go backend, explicitly.
			x, err := New(m, Options{Backend: "go:ops_sequential", NumPages: 4, PageSize: 16, KV: backend.KVF32})
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			ref, err := cpu.New(m, cpu.Options{Threads: 2, NumPages: 4, PageSize: 16, KV: backend.KVF32})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			for _, pos := range []struct {
				name string
				p    []int32
			}{{"in order", inOrder}, {"with gap", withGap}} {
				want := lastLogits(t, ref, tokens, pos.p)
				got := lastLogits(t, x, tokens, pos.p)
				var maxDiff, maxRef float64
				for i, w := range want {
					maxDiff = max(maxDiff, math.Abs(float64(got[i])-float64(w)))
					maxRef = max(maxRef, math.Abs(float64(w)))
				}
				rel := maxDiff / maxRef
				t.Logf("positions %s: max |logit diff| %.3g, largest |logit| %.3g, relative %.3g",
					pos.name, maxDiff, maxRef, rel)
				if tol := logitTolerance(c.dt); !(rel <= tol) {
					t.Errorf("positions %s: relative max logit difference %.3g exceeds %.0e", pos.name, rel, tol)
				}
			}
		})
	}
}

// TestUnknownBackend checks that naming a gomlx backend this binary does not register is an
// error, not a panic or a silent fallback.
func TestUnknownBackend(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	x, err := New(m, Options{Backend: "no-such-backend"})
	if err == nil {
		x.Close()
		t.Fatal("New with an unknown gomlx backend succeeded")
	}
	t.Log(err)
}
