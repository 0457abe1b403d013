package session

import (
	"container/list"
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/retrieve"
)

// entry is one session's chunks in memory: the retriever and what its ids stand for. Only the
// holder of the session's lock uses it (and the session's background jobs, which run between
// two holders), so it needs no lock of its own.
type entry struct {
	r      *retrieve.Retriever
	infos  map[string]info     // retriever id -> chunk
	byHash map[[32]byte]string // content hash -> retriever id: a text is indexed once
	key    string
	elem   *list.Element
}

// info is a chunk as the prompt needs it.
type info struct {
	chunk uint64 // the stored chunk's id; tempChunk for a backfill chunk not stored yet
	turn  int
	role  memory.Role
	text  string
}

// tempChunk marks a backfill chunk that is searched before it is stored.
const tempChunk = ^uint64(0)

// chunkRID is a stored chunk's retriever id.
func chunkRID(id uint64) string { return strconv.FormatUint(id, 10) }

// add indexes a chunk unless its text is indexed already; it reports whether it was added.
func (e *entry) add(rid string, in info, v memory.Vector) (bool, error) {
	h := memory.ContentHash(in.text)
	if _, ok := e.byHash[h]; ok {
		return false, nil
	}
	if rid[0] == 'b' {
		in.chunk = tempChunk
	}
	// retrieve's scale is the largest magnitude, the store's that over 127; cosine does not
	// depend on it.
	if err := e.r.AddQuantized(rid, in.text, v.Data, v.Scale*127); err != nil {
		return false, err
	}
	e.infos[rid] = in
	e.byHash[h] = rid
	return true, nil
}

func (e *entry) remove(rid string) {
	in, ok := e.infos[rid]
	if !ok {
		return
	}
	e.r.Remove(rid)
	delete(e.infos, rid)
	h := memory.ContentHash(in.text)
	if e.byHash[h] == rid {
		delete(e.byHash, h)
	}
}

// cache keeps the entries of recently used sessions, up to a number of chunks in all.
type cache struct {
	mu      sync.Mutex
	limit   int
	chunks  int // held by the entries in lru (as counted when they were last used)
	entries map[string]*entry
	lru     *list.List // front: most recently used
	sizes   map[string]int
}

func newCache(limit int) *cache {
	return &cache{limit: limit, entries: map[string]*entry{}, lru: list.New(), sizes: map[string]int{}}
}

// get returns key's entry and marks it used; nil if not held.
func (c *cache) get(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return nil
	}
	c.lru.MoveToFront(e.elem)
	c.resize(key, e.r.Len())
	return e
}

// put holds e under key and drops the least recently used entries past the limit (never e).
func (c *cache) put(key string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key]; old != nil {
		c.removeLocked(key)
	}
	e.key = key
	e.elem = c.lru.PushFront(e)
	c.entries[key] = e
	c.resize(key, e.r.Len())
	for c.chunks > c.limit && c.lru.Len() > 1 {
		last := c.lru.Back().Value.(*entry)
		c.removeLocked(last.key)
	}
}

func (c *cache) resize(key string, n int) {
	c.chunks += n - c.sizes[key]
	c.sizes[key] = n
}

func (c *cache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != nil {
		c.removeLocked(key)
	}
}

func (c *cache) removeLocked(key string) {
	e := c.entries[key]
	c.lru.Remove(e.elem)
	delete(c.entries, key)
	c.chunks -= c.sizes[key]
	delete(c.sizes, key)
}

// entry returns the session's entry, built from one scan of the store's chunks if it is not
// held. The caller holds the session's lock.
func (m *Manager) entry(ctx context.Context, owner memory.Owner, id string) (*entry, error) {
	key := string(owner) + "/" + id
	if e := m.cache.get(key); e != nil {
		return e, nil
	}
	dim := m.cfg.Embedder.Dim()
	e := &entry{r: retrieve.NewRetriever(dim), infos: map[string]info{}, byHash: map[[32]byte]string{}}
	// Chunks stored by another embedder (the server restarted with another one) are embedded
	// again, batched; their stored vectors cannot be compared with this embedder's queries.
	var stale []memory.Chunk
	flush := func() error {
		if len(stale) == 0 {
			return nil
		}
		texts := make([]string, len(stale))
		for i, c := range stale {
			texts[i] = c.Text
		}
		vecs, err := m.embed(ctx, texts)
		if err != nil {
			return err
		}
		for i, c := range stale {
			if _, err := e.add(chunkRID(c.ID), info{chunk: c.ID, turn: c.Turn, role: c.Role, text: c.Text},
				memory.Quantize(vecs[i])); err != nil {
				return err
			}
		}
		stale = stale[:0]
		return nil
	}
	err := m.cfg.Store.Chunks(ctx, owner, id, func(c memory.Chunk) error {
		if c.Vector.Dim() != dim {
			stale = append(stale, c)
			if len(stale) == 256 {
				return flush()
			}
			return nil
		}
		_, err := e.add(chunkRID(c.ID), info{chunk: c.ID, turn: c.Turn, role: c.Role, text: c.Text}, c.Vector)
		return err
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the memory of session %s: %w", id, err)
	}
	m.cache.put(key, e)
	return e, nil
}
