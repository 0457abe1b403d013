//go:build unix

package memory

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "ARBOR_MEMORY_CRASH_CHILD_DIR"

// TestCrashKeepsAcknowledgedTurns runs the test binary again as a child that appends turns,
// prints each acknowledgement, and SIGKILLs itself mid-stream without closing the store. Every
// turn it acknowledged must be there when the parent reopens the directory, and no turn may be
// half there (a turn without its chunks, or counts that disagree with the turns).
func TestCrashKeepsAcknowledgedTurns(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedTurns$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
	if acked < 0 {
		t.Fatal("child acknowledged nothing")
	}

	ctx := context.Background()
	s := openTest(t, dir)
	sess, err := s.GetSession(ctx, alice, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if sess.TurnCount < acked+1 {
		t.Fatalf("child acknowledged turn %d, store has %d turns", acked, sess.TurnCount)
	}
	var turns []Turn
	for len(turns) < sess.TurnCount {
		page, err := s.Turns(ctx, alice, "crash", len(turns), MaxPageSize)
		if err != nil || len(page) == 0 {
			t.Fatalf("turns from %d: %v", len(turns), err)
		}
		turns = append(turns, page...)
	}
	if len(turns) != sess.TurnCount {
		t.Fatalf("%d turns for a count of %d", len(turns), sess.TurnCount)
	}
	chunks := allChunks(t, s, alice, "crash")
	if len(chunks) != 2*sess.TurnCount || sess.ChunkCount != len(chunks) {
		t.Fatalf("%d chunks, count %d, for %d turns", len(chunks), sess.ChunkCount, sess.TurnCount)
	}
	for i, tu := range turns {
		if tu.Reply != fmt.Sprintf("reply %d", i) {
			t.Fatalf("turn %d: %+v", i, tu)
		}
	}
	t.Logf("child acknowledged %d turns before SIGKILL; %d stored", acked+1, sess.TurnCount)
}

func crashChild(dir string) {
	s, err := OpenBadger(dir, Options{Logger: quiet(), GCInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	if _, _, err := s.CreateOrGetSession(ctx, alice, "crash"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The kill comes from another goroutine at a moment unrelated to the loop, so it usually
	// lands inside an AppendTurn.
	started := make(chan struct{})
	go func() {
		<-started
		time.Sleep(time.Duration(20+rand.IntN(30)) * time.Millisecond)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}()
	for i := range 1_000_000 {
		if i == 20 {
			close(started)
		}
		u, r := fmt.Sprintf("user says %d", i), fmt.Sprintf("reply %d", i)
		_, err := s.AppendTurn(ctx, alice, "crash", Turn{User: u, Reply: r},
			[]Chunk{{Role: RoleUser, Text: u, Vector: vec(i)}, {Role: RoleAssistant, Text: r, Vector: vec(i + 1)}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("acked %d\n", i) // unbuffered: out before the next append starts
	}
	os.Exit(3) // not reached
}
