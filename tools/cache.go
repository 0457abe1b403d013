package tools

import (
	"bytes"
	"container/list"
	"encoding/json"
	"sync"
	"time"
)

const (
	// DefaultCacheEntries is the size of a Cache made with maxEntries <= 0.
	DefaultCacheEntries = 1024
	// DefaultCacheBytes bounds the bytes (keys and results) a Cache holds, whatever its entry
	// count: one result may be up to a MiB, and a thousand of them is more than a cache of tool
	// calls should quietly keep.
	DefaultCacheBytes = 64 << 20
)

// Cache is an LRU cache of successful tool results, safe for concurrent use. Attach one to
// several Sets (Set.WithCache) to share results across requests; entries older than the TTL are
// misses. Only tools with a CacheKey are stored in it (see CacheKeyer).
type Cache struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	ttl      time.Duration
	now      func() time.Time // replaced in tests

	ll    *list.List // front = most recently used; values are *cacheEntry
	items map[string]*list.Element
	bytes int64

	hits, misses uint64
}

type cacheEntry struct {
	key     string
	val     json.RawMessage
	expires time.Time // zero: never
}

// NewCache returns an LRU cache holding at most maxEntries results (DefaultCacheEntries if
// maxEntries <= 0), each kept for ttl (forever if ttl <= 0), and at most DefaultCacheBytes in all.
func NewCache(maxEntries int, ttl time.Duration) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &Cache{
		max:      maxEntries,
		maxBytes: DefaultCacheBytes,
		ttl:      ttl,
		now:      time.Now,
		ll:       list.New(),
		items:    map[string]*list.Element{},
	}
}

// WithMaxBytes sets the bound on the bytes held (keys plus results) and returns c. Results larger
// than the bound are not stored.
func (c *Cache) WithMaxBytes(n int64) *Cache {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxBytes = n
	c.evict()
	return c
}

// CacheStats are a Cache's counters, for metrics.
type CacheStats struct {
	Entries      int
	Bytes        int64
	Hits, Misses uint64
}

// Stats returns the current counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: c.ll.Len(), Bytes: c.bytes, Hits: c.hits, Misses: c.misses}
}

// Len reports the number of entries (expired ones included until they are looked up or evicted).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// Clear drops every entry.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.items)
	c.bytes = 0
}

// get returns a copy of the value: the caller may append to or edit its Result.JSON, and that must
// not reach the next request's hit.
func (c *Cache) get(key string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.misses++
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !e.expires.IsZero() && !c.now().Before(e.expires) {
		c.remove(el)
		c.misses++
		return nil, false
	}
	c.ll.MoveToFront(el)
	c.hits++
	return bytes.Clone(e.val), true
}

func (c *Cache) put(key string, val json.RawMessage) {
	size := int64(len(key) + len(val))
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.maxBytes {
		return
	}
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	e := &cacheEntry{key: key, val: bytes.Clone(val)}
	if c.ttl > 0 {
		e.expires = c.now().Add(c.ttl)
	}
	c.items[key] = c.ll.PushFront(e)
	c.bytes += size
	c.evict()
}

// evict drops least recently used entries until both bounds hold. Callers hold mu.
func (c *Cache) evict() {
	for c.ll.Len() > 0 && (c.ll.Len() > c.max || c.bytes > c.maxBytes) {
		c.remove(c.ll.Back())
	}
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.bytes -= int64(len(e.key) + len(e.val))
}
