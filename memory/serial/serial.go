// Package serial serves the requests to one session one at a time, in arrival order: a turn's
// memory (the turns it reads, the turn it writes) must see the turns before it, and two
// requests to one session running together would each miss the other's. Requests to different
// sessions never wait for each other.
package serial

import (
	"context"
	"sync"
)

// Keys is a set of FIFO locks, one per key, that exist only while held or awaited: an idle
// key costs nothing, however many sessions there have been.
type Keys struct {
	mu   sync.Mutex
	keys map[string]*queue
}

type queue struct {
	waiters []chan struct{} // in arrival order; a closed channel is the lock handed over
}

// Acquire waits for key's lock, behind every earlier Acquire of the key, and returns its
// release function (call it once). A cancelled context gives up its place and returns the
// context's error; a lock handed to a request that was cancelled meanwhile is passed on.
func (k *Keys) Acquire(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*queue{}
	}
	q, busy := k.keys[key]
	if !busy {
		k.keys[key] = &queue{}
		k.mu.Unlock()
		return k.releaser(key), nil
	}
	ch := make(chan struct{})
	q.waiters = append(q.waiters, ch)
	k.mu.Unlock()

	select {
	case <-ch:
		return k.releaser(key), nil
	case <-ctx.Done():
	}
	k.mu.Lock()
	for i, w := range q.waiters {
		if w == ch {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			k.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	k.mu.Unlock()
	// The lock was handed over as the context ended: pass it on.
	<-ch
	k.release(key)
	return nil, ctx.Err()
}

func (k *Keys) releaser(key string) func() {
	var once sync.Once
	return func() { once.Do(func() { k.release(key) }) }
}

// release hands key's lock to its first waiter, or drops the key.
func (k *Keys) release(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	q := k.keys[key]
	if len(q.waiters) == 0 {
		delete(k.keys, key)
		return
	}
	next := q.waiters[0]
	q.waiters = q.waiters[1:]
	close(next)
}

// Len is the number of keys held or awaited.
func (k *Keys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}
