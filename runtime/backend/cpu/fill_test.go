package cpu

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/arborlabs/arbor/runtime/backend"
	"github.com/arborlabs/arbor/runtime/model"
)

// FillCache writes values in [-1, 1) into exactly the slots it is given, deterministically by
// seed, and a decode step then reads them.
func TestFillCache(t *testing.T) {
	m := testModel(t, "tiny", model.F32)
	be := newTestBackend(t, m, Options{Threads: 2, PageSize: 16, NumPages: 8})
	var _ backend.CacheFiller = be
	pages := []int32{5, 2, 7}
	const n = 40
	decode := func(seed uint64) []float32 {
		for i := range be.layers {
			clear(be.layers[i].kCache.f16)
			clear(be.layers[i].vCache.f16)
		}
		if err := be.FillCache(pages, n, seed); err != nil {
			t.Fatal(err)
		}
		for i := range be.layers {
			for slot := 0; slot < 48; slot++ {
				off := be.slotOffset(pages, slot)
				k := cacheRow(&be.layers[i].kCache, off, be.kvDim)
				written := slices.ContainsFunc(k, func(x float32) bool { return x != 0 })
				if written != (slot < n) {
					t.Fatalf("layer %d slot %d: written %v", i, slot, written)
				}
				for _, x := range k {
					if x < -1 || x > 1 { // [-1, 1), and an f16 cache may round up to 1
						t.Fatalf("layer %d slot %d: value %v", i, slot, x)
					}
				}
			}
		}
		logits := [][]float32{make([]float32, m.Config.VocabSize)}
		b := &backend.Batch{Seqs: []backend.SeqInput{{Tokens: []int32{3}, Positions: []int32{n}, Start: n,
			Pages: pages, Logits: true}}}
		if err := be.Forward(b, logits); err != nil {
			t.Fatal(err)
		}
		return logits[0]
	}
	a, b, c := decode(1), decode(1), decode(2)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different logits")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds gave the same logits: the step did not read the filled cache")
	}
	for _, x := range a {
		if math.IsNaN(float64(x)) {
			t.Fatal("NaN logit")
		}
	}
	for _, bad := range []struct {
		pages []int32
		n     int
	}{{[]int32{5}, 17}, {[]int32{9}, 1}, {pages, -1}} {
		if err := be.FillCache(bad.pages, bad.n, 1); !errors.Is(err, backend.ErrBadBatch) {
			t.Errorf("FillCache(%v, %d): %v", bad.pages, bad.n, err)
		}
	}
}
