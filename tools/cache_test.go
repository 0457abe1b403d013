package tools

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCacheLRU(t *testing.T) {
	c := NewCache(3, 0)
	for _, k := range []string{"a", "b", "c"} {
		c.put(k, json.RawMessage(`"`+k+`"`))
	}
	if _, ok := c.get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put("d", json.RawMessage(`"d"`)) // evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Error("b survived eviction")
	}
	for _, k := range []string{"a", "c", "d"} {
		if v, ok := c.get(k); !ok || string(v) != `"`+k+`"` {
			t.Errorf("%s: %s %v", k, v, ok)
		}
	}
	c.put("a", json.RawMessage(`"A"`)) // replace, no growth
	if v, _ := c.get("a"); string(v) != `"A"` || c.Len() != 3 {
		t.Errorf("replace: %s, len %d", v, c.Len())
	}
	st := c.Stats()
	if st.Hits != 5 || st.Misses != 1 || st.Entries != 3 || st.Bytes != 3*(1+3) {
		t.Errorf("stats %+v", st)
	}
	c.Clear()
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("after Clear: %+v", st)
	}
}

func TestCacheTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache(0, time.Minute)
	c.now = func() time.Time { return now }
	c.put("k", json.RawMessage(`1`))
	now = now.Add(59 * time.Second)
	if _, ok := c.get("k"); !ok {
		t.Error("expired early")
	}
	now = now.Add(time.Second)
	if _, ok := c.get("k"); ok {
		t.Error("served after its TTL")
	}
	if c.Len() != 0 {
		t.Error("expired entry kept")
	}
}

func TestCacheByteBound(t *testing.T) {
	c := NewCache(100, 0).WithMaxBytes(25)
	c.put("a", json.RawMessage(`"0123456789"`)) // 13 bytes
	c.put("b", json.RawMessage(`"0123456789"`)) // 26 in all: a goes
	if _, ok := c.get("a"); ok {
		t.Error("byte bound not enforced")
	}
	c.put("huge", json.RawMessage(`"`+fmt.Sprint(make([]int, 20))+`"`)) // larger than the bound: not stored
	if _, ok := c.get("huge"); ok {
		t.Error("an entry over the whole bound was stored")
	}
	if _, ok := c.get("b"); !ok {
		t.Error("storing nothing evicted b")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(50, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprint((g * i) % 80)
				if v, ok := c.get(k); ok && string(v) != k {
					t.Errorf("key %s holds %s", k, v)
				}
				c.put(k, json.RawMessage(k))
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > 50 {
		t.Errorf("%d entries over the bound", n)
	}
}
