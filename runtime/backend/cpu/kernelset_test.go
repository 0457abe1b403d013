package cpu

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
)

// TestKernelSets switches one backend through every kernel set this CPU runs, between forward
// passes as `arbor bench --alternate` does, and checks that each set is the one reported and
// that every pass still matches the reference: nothing a set chose may outlive the switch.
func TestKernelSets(t *testing.T) {
	sets := KernelSets()
	start := KernelSet()
	if sets[0] != start || sets[len(sets)-1] != "portable" {
		t.Fatalf("KernelSets() = %v: want %q first and \"portable\" last", sets, start)
	}
	t.Logf("kernel sets here: %v", sets)
	if _, err := UseKernelSet("avx9000"); err == nil || !strings.Contains(err.Error(), strings.Join(sets, ", ")) {
		t.Fatalf("UseKernelSet(unknown): err %v, want one listing %v", err, sets)
	}
	if KernelSet() != start {
		t.Fatalf("a failed UseKernelSet changed the set to %q", KernelSet())
	}

	m := testModel(t, "tiny-qwen2", model.Q8_0)
	be := newTestBackend(t, m, Options{Threads: 2, NumPages: 16, PageSize: 4, KV: backend.KVF32})
	r := rand.New(rand.NewPCG(3, 4))
	tokens := randomTokens(r, 4+2*len(sets), m.Config.VocabSize)
	want := refForward(&m.Config, &m.Weights, tokens, seqPositions(0, len(tokens)))
	pages := []int32{5, 2, 11, 8}
	logits := [][]float32{make([]float32, m.Config.VocabSize)}
	step := func(done, n int) {
		t.Helper()
		in := backend.SeqInput{Tokens: tokens[done : done+n], Positions: seqPositions(done, n), Start: done,
			Pages: pages, Logits: true}
		if err := be.Forward(&backend.Batch{Seqs: []backend.SeqInput{in}}, logits); err != nil {
			t.Fatal(err)
		}
		compareLogits(t, fmt.Sprintf("%s, after %d tokens", KernelSet(), done+n), logits[0], want[done+n-1],
			tolerance(model.Q8_0))
	}
	step(0, 4) // a prefill with the start-up set
	done := 4
	// Every set in turn for a decode step, back to the start-up set after each.
	for _, name := range sets {
		restore, err := UseKernelSet(name)
		if err != nil {
			t.Fatalf("UseKernelSet(%q): %v", name, err)
		}
		if got := KernelSet(); got != name {
			t.Fatalf("after UseKernelSet(%q) KernelSet() = %q", name, got)
		}
		step(done, 1)
		restore()
		if got := KernelSet(); got != start {
			t.Fatalf("restore after %q: KernelSet() = %q, want %q", name, got, start)
		}
		step(done+1, 1)
		done += 2
	}
}
