package cpu

import "github.com/arborlabs/arbor/runtime/backend"

// kvCache is one layer's keys (or values): NumPages pages of PageSize slots of kvDim elements,
// stored as f16 (the default: half the bytes a decode step streams) or float32. Exactly one of
// the two slices is set. Offsets are in elements either way, so page tables, row offsets and
// slot moves do not depend on the type.
type kvCache struct {
	f32 []float32
	f16 []uint16
}

// newKVCache allocates a layer's cache of n elements (the memory is faulted in later, by
// faultIn).
func newKVCache(t backend.KVType, n int) kvCache {
	if t == backend.KVF32 {
		return kvCache{f32: make([]float32, n)}
	}
	return kvCache{f16: make([]uint16, n)}
}

// faultIn stores into every page of the cache's memory. A large allocation comes from the OS
// untouched, and the first store to each of its pages would otherwise take a page fault inside
// a decode step: with eight sequences decoding that was 0.4 ms of qwen2.5-0.5b's 15 ms step
// (storing the step's keys and values went from 19 to 2 us a layer once faulted in, on the
// 2-core Zen 5). llama.cpp clears its KV buffer at start-up for the same effect. The cost moves
// to loading: on that machine, a virtual one, about 2 s a GB with both cores at it (3.5 with
// one), and no faster on 2 MB pages.
func (c *kvCache) faultIn() {
	for i := 0; i < len(c.f32); i += faultStride / 4 {
		c.f32[i] = 0
	}
	for i := 0; i < len(c.f16); i += faultStride / 2 {
		c.f16[i] = 0
	}
}

// faultStride is the bytes between the stores that fault a new cache in: the smallest page
// size of the machines Arbor runs on (a store per page; on larger pages some are redundant).
const faultStride = 4096

// faultTask faults in the layers' key and value caches, one cache an item.
type faultTask struct{ layers []layer }

func (f *faultTask) run(lo, hi, _ int) {
	for i := lo; i < hi; i++ {
		l := &f.layers[i/2]
		if i%2 == 0 {
			l.kCache.faultIn()
		} else {
			l.vCache.faultIn()
		}
	}
}

// store writes src at element offset off (rounding to nearest even for f16).
func (c *kvCache) store(off int, src []float32) {
	if c.f16 != nil {
		toF16(c.f16[off:off+len(src)], src)
		return
	}
	copy(c.f32[off:off+len(src)], src)
}

// load reads len(dst) elements at offset off, widened to float32.
func (c *kvCache) load(off int, dst []float32) {
	if c.f16 != nil {
		fromF16(dst, c.f16[off:off+len(dst)])
		return
	}
	copy(dst, c.f32[off:off+len(dst)])
}

// move copies n elements from offset src to offset dst (as copy does: overlapping is fine).
func (c *kvCache) move(dst, src, n int) {
	if c.f16 != nil {
		copy(c.f16[dst:dst+n], c.f16[src:src+n])
		return
	}
	copy(c.f32[dst:dst+n], c.f32[src:src+n])
}
