package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
)

// TestPhaseTime checks the per-phase timing: off, a forward pass adds nothing; on, each pass
// counts once and every phase a layer runs gets time; turning it on again starts from zero.
func TestPhaseTime(t *testing.T) {
	m := testModel(t, "tiny-qwen2", model.Q8_0)
	be := newTestBackend(t, m, Options{Threads: 2, NumPages: 16, PageSize: 4})
	r := rand.New(rand.NewPCG(5, 6))
	V := m.Config.VocabSize
	logits := [][]float32{make([]float32, V), make([]float32, V)}
	step := func(start, n int) {
		t.Helper()
		batch := &backend.Batch{}
		for _, pages := range [][]int32{{0, 1, 2}, {3, 4, 5}} {
			batch.Seqs = append(batch.Seqs, backend.SeqInput{Tokens: randomTokens(r, n, V),
				Positions: seqPositions(start, n), Start: start, Pages: pages, Logits: true})
		}
		if err := be.Forward(batch, logits); err != nil {
			t.Fatal(err)
		}
	}
	step(0, 5)
	if pt := be.PhaseTime(); pt != (PhaseTime{}) {
		t.Fatalf("timing off, yet %+v", pt)
	}
	be.TimePhases(true)
	step(5, 1)
	step(6, 1)
	pt := be.PhaseTime()
	if pt.Passes != 2 {
		t.Fatalf("%d passes timed, want 2", pt.Passes)
	}
	for p := PhaseNorm; p < PhaseOther; p++ {
		if pt.Nanos[p] <= 0 {
			t.Errorf("phase %s: %d ns, want some", p, pt.Nanos[p])
		}
	}
	be.TimePhases(false)
	step(7, 1)
	if got := be.PhaseTime(); got != pt {
		t.Fatalf("timing off, the sums moved: %+v, was %+v", got, pt)
	}
	be.TimePhases(true)
	if got := be.PhaseTime(); got != (PhaseTime{}) {
		t.Fatalf("timing on again: %+v, want zero", got)
	}
}
