package server

import (
	"testing"
	"time"
)

// paced runs its work once, and a long piece of work holds the slot as long again after it,
// without making its caller wait for that.
func TestPaced(t *testing.T) {
	runs := 0
	start := time.Now()
	paced(func() { runs++; time.Sleep(30 * time.Millisecond) })
	if runs != 1 {
		t.Fatalf("work ran %d times", runs)
	}
	returned := time.Since(start)
	paced(func() { runs++ })
	if runs != 2 {
		t.Fatalf("work ran %d times", runs)
	}
	// The second call waited for the first one's hold: it could not start before about twice
	// the first one's work had passed (a lower bound, which no scheduling delay breaks).
	if total := time.Since(start); total < 60*time.Millisecond || returned >= total {
		t.Fatalf("first call returned after %v, second after %v", returned, total)
	}
}
