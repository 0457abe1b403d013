package serial

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestFIFO: requests to one key run one at a time, in the order they arrived; another key
// does not wait.
func TestFIFO(t *testing.T) {
	var k Keys
	release, err := k.Acquire(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := k.Acquire(context.Background(), "s")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			rel()
		}()
		// Let each one queue before the next arrives.
		for deadline := time.Now().Add(time.Second); waiting(&k, "s") < i+1 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	other, err := k.Acquire(context.Background(), "t") // not behind "s"
	if err != nil {
		t.Fatal(err)
	}
	other()
	release()
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("order %v", order)
		}
	}
	if k.Len() != 0 {
		t.Fatalf("%d keys left", k.Len())
	}
}

func waiting(k *Keys, key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if q := k.keys[key]; q != nil {
		return len(q.waiters)
	}
	return 0
}

// TestCancel: a cancelled waiter leaves the queue, and the ones behind it still get the lock;
// releasing twice is harmless.
func TestCancel(t *testing.T) {
	var k Keys
	release, _ := k.Acquire(context.Background(), "s")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := k.Acquire(ctx, "s")
		errc <- err
	}()
	got := make(chan struct{})
	go func() {
		for waiting(&k, "s") < 1 {
			time.Sleep(time.Millisecond)
		}
		rel, err := k.Acquire(context.Background(), "s")
		if err == nil {
			close(got)
			rel()
		}
	}()
	for waiting(&k, "s") < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	release()
	release()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter behind a cancelled one never got the lock")
	}
	for deadline := time.Now().Add(time.Second); k.Len() != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if k.Len() != 0 {
		t.Fatalf("%d keys left", k.Len())
	}
}

// TestCancelRace: contexts ending as the lock is handed over never lose the lock: after many
// racing acquisitions the key is free.
func TestCancelRace(t *testing.T) {
	var k Keys
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*100*time.Microsecond)
			defer cancel()
			if rel, err := k.Acquire(ctx, "s"); err == nil {
				time.Sleep(50 * time.Microsecond)
				rel()
			}
		}()
	}
	wg.Wait()
	if k.Len() != 0 {
		t.Fatalf("%d keys left after every request ended", k.Len())
	}
	rel, err := k.Acquire(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	rel()
}
