package compact

import (
	"context"
	"sync"
)

// Worker runs summary updates off the requests' path: jobs of one session run one at a time,
// in the order submitted (S(t) needs S(t-1)); jobs of different sessions run on up to n
// goroutines at once. A request waits only for its own session's pending jobs (Wait), and only
// when it needs the summary they produce.
type Worker struct {
	mu      sync.Mutex
	n       int
	running int
	ready   []string                // sessions with jobs and none running, in submission order
	pending map[string]*sessionJobs // sessions with jobs queued or running
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type sessionJobs struct {
	jobs    []func(context.Context)
	running bool
	idle    chan struct{} // closed when the session has no job left
}

// NewWorker makes a worker running up to n jobs at once (at least 1).
func NewWorker(n int) *Worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Worker{n: max(n, 1), pending: map[string]*sessionJobs{}, ctx: ctx, cancel: cancel}
}

// Submit queues job for session. Jobs see a context that Close cancels.
func (w *Worker) Submit(session string, job func(ctx context.Context)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	s := w.pending[session]
	if s == nil {
		s = &sessionJobs{idle: make(chan struct{})}
		w.pending[session] = s
	}
	s.jobs = append(s.jobs, job)
	if !s.running && len(s.jobs) == 1 {
		w.ready = append(w.ready, session)
	}
	w.dispatch()
}

// dispatch starts ready sessions' next jobs while there is room; w.mu is held.
func (w *Worker) dispatch() {
	for w.running < w.n && len(w.ready) > 0 {
		session := w.ready[0]
		w.ready = w.ready[1:]
		s := w.pending[session]
		job := s.jobs[0]
		s.jobs = s.jobs[1:]
		s.running = true
		w.running++
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			job(w.ctx)
			w.mu.Lock()
			defer w.mu.Unlock()
			w.running--
			s.running = false
			if len(s.jobs) > 0 {
				w.ready = append(w.ready, session)
			} else {
				close(s.idle)
				delete(w.pending, session)
			}
			w.dispatch()
		}()
	}
}

// Wait returns once session has no job queued or running, or with ctx's error.
func (w *Worker) Wait(ctx context.Context, session string) error {
	w.mu.Lock()
	s := w.pending[session]
	w.mu.Unlock()
	if s == nil {
		return nil
	}
	select {
	case <-s.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels the running jobs' context, drops the queued ones (their sessions' Waits
// return) and waits for the running ones to return.
func (w *Worker) Close() {
	w.mu.Lock()
	w.cancel()
	w.ready = nil
	for name, s := range w.pending {
		s.jobs = nil
		if !s.running { // a running job closes its own when it returns
			close(s.idle)
			delete(w.pending, name)
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}
