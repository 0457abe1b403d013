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

func newKVCache(t backend.KVType, n int) kvCache {
	if t == backend.KVF32 {
		return kvCache{f32: make([]float32, n)}
	}
	return kvCache{f16: make([]uint16, n)}
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
