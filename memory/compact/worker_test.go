package compact

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkerOrderPerSession: one session's jobs run in order, never two at once; sessions run
// side by side up to the limit; Wait returns when a session's jobs are done.
func TestWorkerOrderPerSession(t *testing.T) {
	w := NewWorker(3)
	defer w.Close()
	var mu sync.Mutex
	got := map[string][]int{}
	var inSession [4]atomic.Int32
	var concurrent, peak atomic.Int32
	for i := range 40 {
		s := i % 4
		name := string(rune('a' + s))
		w.Submit(name, func(ctx context.Context) {
			if inSession[s].Add(1) != 1 {
				t.Errorf("session %s: two jobs at once", name)
			}
			c := concurrent.Add(1)
			for {
				p := peak.Load()
				if c <= p || peak.CompareAndSwap(p, c) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			mu.Lock()
			got[name] = append(got[name], i)
			mu.Unlock()
			concurrent.Add(-1)
			inSession[s].Add(-1)
		})
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		if err := w.Wait(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		jobs := got[name]
		mu.Unlock()
		if len(jobs) != 10 {
			t.Fatalf("session %s: %d jobs done after Wait", name, len(jobs))
		}
		for j := 1; j < len(jobs); j++ {
			if jobs[j] < jobs[j-1] {
				t.Fatalf("session %s: jobs out of order %v", name, jobs)
			}
		}
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency %d with a limit of 3 and 4 sessions", p)
	}
	if err := w.Wait(context.Background(), "never"); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerWaitCancelAndClose(t *testing.T) {
	w := NewWorker(1)
	started := make(chan struct{})
	w.Submit("s", func(ctx context.Context) {
		close(started)
		<-ctx.Done() // runs until Close
	})
	ran := false
	w.Submit("s", func(context.Context) { ran = true })
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Wait(ctx, "s"); err == nil {
		t.Fatal("Wait returned while a job ran")
	}
	w2 := NewWorker(1)
	block := make(chan struct{})
	w2.Submit("x", func(context.Context) { <-block })
	w2.Submit("y", func(context.Context) {}) // queued behind x's job, never started
	waited := make(chan error, 1)
	go func() { waited <- w2.Wait(context.Background(), "y") }()
	go func() { time.Sleep(10 * time.Millisecond); close(block) }()
	w2.Close()
	if err := <-waited; err != nil {
		t.Fatalf("Wait on a session whose queued job Close dropped: %v", err)
	}
	w.Close()
	if ran {
		t.Fatal("a queued job ran after Close")
	}
	w.Submit("s", func(context.Context) { t.Error("a job submitted after Close ran") })
}
