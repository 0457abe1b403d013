package grammar

import "sync"

// The masks of states already computed are kept in one cache for the whole process, shared by
// every grammar and vocabulary, so that its memory has one bound however many grammars are
// alive (a server keeps compiled grammars for the schemas clients repeat). Entries are keyed by
// the grammar's id, the vocabulary and the state's hash (its nodes and whole stacks): a hit is
// exact up to 64-bit hash collisions.
//
// Eviction is by generations: new masks go into the current map; when it reaches half the
// budget it becomes the old one (the previous old map is dropped) and a fresh map starts. A
// hit in the old map moves the entry to the current one, so masks in use survive.

// MaskCacheBytes bounds the mask cache's memory (about 6,800 masks of a 152k vocabulary).
const MaskCacheBytes = 128 << 20

type maskKey struct {
	grammar uint64
	vocab   *Vocab
	state   uint64
}

type maskStore struct {
	mu       sync.Mutex
	cur, old map[maskKey][]uint64
	curBytes int
	oldBytes int
	limit    int // bytes per generation
}

var masks = &maskStore{cur: map[maskKey][]uint64{}, limit: MaskCacheBytes / 2}

// maskEntryOverhead approximates a map entry's bytes besides the mask itself.
const maskEntryOverhead = 96

func (c *maskStore) get(k maskKey) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.cur[k]; ok {
		return m
	}
	m, ok := c.old[k]
	if !ok {
		return nil
	}
	delete(c.old, k)
	c.oldBytes -= entrySize(m)
	c.addLocked(k, m)
	return m
}

func (c *maskStore) put(k maskKey, mask []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return
	}
	c.addLocked(k, append([]uint64(nil), mask...))
}

func entrySize(m []uint64) int { return 8*len(m) + maskEntryOverhead }

func (c *maskStore) addLocked(k maskKey, m []uint64) {
	size := entrySize(m)
	if c.curBytes+size > c.limit && len(c.cur) > 0 {
		c.old, c.oldBytes = c.cur, c.curBytes
		c.cur, c.curBytes = map[maskKey][]uint64{}, 0
	}
	c.cur[k] = m
	c.curBytes += size
}

// MaskCacheSize is the mask cache's approximate memory in bytes (at most MaskCacheBytes).
func MaskCacheSize() int { return masks.bytes() }

// bytes is the cache's approximate memory.
func (c *maskStore) bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.curBytes + c.oldBytes
}

// clearMaskCache empties the cache (benchmarks measure cold masks with it).
func clearMaskCache() {
	masks.mu.Lock()
	defer masks.mu.Unlock()
	masks.cur, masks.old, masks.curBytes, masks.oldBytes = map[maskKey][]uint64{}, nil, 0, 0
}
