//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveCrashChildEnv, set, makes the test binary the child: arbor serve on that data directory.
const serveCrashChildEnv = "ARBOR_SERVE_CRASH_CHILD_DIR"

// TestServeKeepsAcknowledgedTurnsAfterSIGKILL runs arbor serve in a child process (the test
// binary again), drives six sessions of two API keys with chat turns (streamed and not), and
// SIGKILLs the child while requests are in flight. Restarted on the same data directory, the
// server must have every turn a client saw acknowledged (the whole JSON body, or a stream up to
// data: [DONE]), in order, with the user text sent and the reply received, indexed without a
// gap; beyond them at most the one turn that was in flight per session, and whole. A session
// stays its key's alone, and takes its next turn at the next index.
func TestServeKeepsAcknowledgedTurnsAfterSIGKILL(t *testing.T) {
	if dir := os.Getenv(serveCrashChildEnv); dir != "" {
		serveCrashChild(dir)
		return
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	// The child's TestMain makes its temporary directory under TMPDIR, and a SIGKILLed child
	// cannot remove it: under tmp it goes with the test's.
	childTmp := filepath.Join(tmp, "tmp")
	if err := os.Mkdir(childTmp, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(tmp, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("the children's log, last lines:\n%s", b)
		}
	})
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer hc.CloseIdleConnections()

	start := time.Now()
	child := startServeChild(t, dir, childTmp, logPath)
	waitHealthy(t, hc, child)
	t.Logf("ready after %v", time.Since(start))

	const nSessions = 6
	keys := []string{"k1", "k2"}
	loads := make([]*sessionLoad, nSessions)
	for i := range loads {
		loads[i] = &sessionLoad{id: fmt.Sprintf("crash-%d", i), key: keys[i%2], other: keys[(i+1)%2]}
	}
	var acked, inFlight atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	for i, l := range loads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for n := 0; ; n++ {
				tr := &turnRecord{user: fmt.Sprintf("session %d turn %d: %s", i, n, someWords(rng)),
					stream: rng.IntN(2) == 0, header: rng.IntN(3) == 0, usage: rng.IntN(2) == 0}
				l.mu.Lock()
				l.inflight = tr
				l.mu.Unlock()
				inFlight.Add(1)
				err := chatTurn(hc, child.base, l, tr)
				inFlight.Add(-1)
				if err != nil {
					if !killed.Load() {
						t.Errorf("session %s turn %d before the kill: %v", l.id, n, err)
					}
					return
				}
				l.mu.Lock()
				l.acked = append(l.acked, tr)
				l.inflight = nil
				l.mu.Unlock()
				acked.Add(1)
			}
		}()
	}

	// The kill: once a fair number of turns are acknowledged, at a moment unrelated to any
	// request, so that it lands anywhere in one (often in a commit, the longest step).
	target := int64(30 + rand.IntN(10))
	deadline := time.Now().Add(3 * time.Minute)
	for acked.Load() < target && !child.exited() && time.Now().Before(deadline) && !t.Failed() {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	n, running := acked.Load(), inFlight.Load()
	killed.Store(true)
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("SIGKILL: %v", err)
	}
	wg.Wait()
	child.wait(t)
	if ws, ok := child.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child did not die by SIGKILL: %v", child.cmd.ProcessState)
	}
	if t.Failed() {
		t.FailNow()
	}
	if n < target {
		t.Fatalf("%d turns acknowledged before the deadline, wanted %d", n, target)
	}
	total := acked.Load()
	t.Logf("SIGKILL after %d acknowledged turns, %d requests in flight; %d acknowledged in all", n, running, total)

	// Restarted on the same directory.
	t.Logf("killed at %v", time.Since(start))
	child = startServeChild(t, dir, childTmp, logPath)
	waitHealthy(t, hc, child)
	t.Logf("ready again at %v", time.Since(start))
	extra := 0
	for _, l := range loads {
		turns, found := readTurns(t, hc, child.base, l.id, l.key)
		if !found {
			if len(l.acked) > 0 {
				t.Errorf("session %s: 404 after %d acknowledged turns", l.id, len(l.acked))
			}
			continue
		}
		for i, tu := range turns {
			if tu.Index != i {
				t.Errorf("session %s: turn %d of the list has index %d", l.id, i, tu.Index)
			}
		}
		for i, a := range l.acked {
			if i >= len(turns) {
				t.Errorf("session %s: %d turns stored, %d acknowledged: lost from turn %d %q", l.id, len(turns),
					len(l.acked), i, a.user)
				break
			}
			if turns[i].User != a.user || turns[i].Assistant != a.reply {
				t.Errorf("session %s turn %d: stored user %q assistant %q, acknowledged user %q reply %q", l.id, i,
					turns[i].User, turns[i].Assistant, a.user, a.reply)
			}
		}
		if len(turns) > len(l.acked) {
			extra += len(turns) - len(l.acked)
			if len(turns) > len(l.acked)+1 || l.inflight == nil {
				t.Errorf("session %s: %d turns stored, %d acknowledged, in flight %v", l.id, len(turns),
					len(l.acked), l.inflight != nil)
			} else if got := turns[len(l.acked)]; got.User == "" || got.User != l.inflight.user ||
				!strings.HasPrefix(got.Assistant, l.inflight.reply) {
				t.Errorf("session %s: the turn in flight is stored as user %q assistant %q; sent %q, received %q",
					l.id, got.User, got.Assistant, l.inflight.user, l.inflight.reply)
			}
		}
		var sess struct {
			TurnCount  int `json:"turn_count"`
			ChunkCount int `json:"chunk_count"`
		}
		if code := getJSON(t, hc, child.base+"/v1/sessions/"+l.id, l.key, &sess); code != 200 {
			t.Errorf("session %s: GET with its key: %d", l.id, code)
		} else if sess.TurnCount != len(turns) || sess.ChunkCount > 2*sess.TurnCount ||
			(sess.TurnCount > 0 && sess.ChunkCount == 0) {
			t.Errorf("session %s: turn_count %d, chunk_count %d, %d turns listed", l.id, sess.TurnCount,
				sess.ChunkCount, len(turns))
		}
		for _, path := range []string{"/v1/sessions/" + l.id, "/v1/sessions/" + l.id + "/turns"} {
			if code := getJSON(t, hc, child.base+path, l.other, nil); code != 404 {
				t.Errorf("GET %s with the other key: %d, want 404", path, code)
			}
		}
		// The next turn goes at the next index.
		next := &turnRecord{user: fmt.Sprintf("session %s after the restart", l.id)}
		if err := chatTurn(hc, child.base, l, next); err != nil {
			t.Errorf("session %s: a turn after the restart: %v", l.id, err)
			continue
		}
		after, _ := readTurns(t, hc, child.base, l.id, l.key)
		if len(after) != len(turns)+1 || after[len(turns)].Index != len(turns) || after[len(turns)].User != next.user ||
			after[len(turns)].Assistant != next.reply {
			t.Errorf("session %s: after one more turn, %d turns (was %d), the last %+v", l.id, len(after), len(turns),
				after[len(after)-1])
		}
	}
	t.Logf("%d turns in flight at the kill were stored", extra)

	t.Logf("checked at %v", time.Since(start))
	// A clean stop: SIGTERM, serve returns nil.
	if err := child.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	child.wait(t)
	t.Logf("stopped at %v", time.Since(start))
	if !child.cmd.ProcessState.Success() || !child.saw("stopped") {
		t.Errorf("the restarted child on SIGTERM: %v, stdout %q", child.cmd.ProcessState, child.lines())
	}
}

// serveCrashChild is the child: arbor serve on dir until SIGTERM (or its stdin closes: the
// parent is gone). It prints "listening ADDR" once it listens, "stopped" when serve returned nil.
func serveCrashChild(dir string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := serve(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--ctx", "512", "--threads", "1",
		"--api-key", "k1", "--api-key", "k2"}, os.Stderr, func(addr string) { fmt.Printf("listening %s\n", addr) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("stopped")
	os.Exit(0)
}

// serveChild is a running child.
type serveChild struct {
	cmd   *exec.Cmd
	stdin io.Closer
	base  string
	done  chan struct{} // closed once the child is waited for

	mu  sync.Mutex
	out []string
}

func startServeChild(t *testing.T, dir, tmp, logPath string) *serveChild {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeKeepsAcknowledgedTurnsAfterSIGKILL$")
	cmd.Env = append(os.Environ(), serveCrashChildEnv+"="+dir, "TMPDIR="+tmp)
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &serveChild{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.out = append(c.out, sc.Text())
			c.mu.Unlock()
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
		_ = cmd.Wait() // after the last read of stdout
		close(c.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	select {
	case a := <-addr:
		c.base = "http://" + a
	case <-c.done:
		t.Fatalf("the child exited before listening: %v", cmd.ProcessState)
	case <-time.After(2 * time.Minute):
		t.Fatal("the child did not listen")
	}
	return c
}

func (c *serveChild) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits for the child to exit.
func (c *serveChild) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the child did not exit")
	}
}

func (c *serveChild) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.out...)
}

func (c *serveChild) saw(line string) bool {
	for _, l := range c.lines() {
		if l == line {
			return true
		}
	}
	return false
}

// waitHealthy polls /health until 200 (the model loaded).
func waitHealthy(t *testing.T, hc *http.Client, c *serveChild) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := hc.Get(c.base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if c.exited() {
			t.Fatalf("the child exited: %v", c.cmd.ProcessState)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health: %v %v", res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessionLoad is one session's client: its turns acknowledged, and the one in flight.
type sessionLoad struct {
	id, key, other string

	mu       sync.Mutex
	acked    []*turnRecord
	inflight *turnRecord
}

// turnRecord is a turn as the client sent it and received its reply (so far, while in flight).
type turnRecord struct {
	user                  string
	stream, header, usage bool
	reply                 string
}

var crashWords = strings.Fields("alder birch cedar delta ember fjord glade harbor inlet juniper kestrel " +
	"lagoon meadow nectar orchard pebble quartz rowan saffron thistle umber valley willow yarrow zephyr")

func someWords(rng *rand.Rand) string {
	ws := make([]string, 3+rng.IntN(6))
	for i := range ws {
		ws[i] = crashWords[rng.IntN(len(crashWords))]
	}
	return strings.Join(ws, " ")
}

// chatTurn sends one turn of l and reads the answer into tr.reply; nil means acknowledged: a
// 200 with the whole body, or a stream up to data: [DONE] without an error event.
func chatTurn(hc *http.Client, base string, l *sessionLoad, tr *turnRecord) error {
	body := map[string]any{
		"messages":   []map[string]any{{"role": "user", "content": tr.user}},
		"max_tokens": 4,
		"stream":     tr.stream,
	}
	if !tr.header {
		body["session_id"] = l.id
	}
	if tr.stream && tr.usage {
		body["stream_options"] = map[string]any{"include_usage": true}
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", base+"/v1/chat/completions", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+l.key)
	req.Header.Set("Content-Type", "application/json")
	if tr.header {
		req.Header.Set("X-Session-Id", l.id)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(res.Body)
		return fmt.Errorf("status %d: %s", res.StatusCode, msg)
	}
	if !tr.stream {
		var out struct {
			Choices []struct {
				Message struct {
					Content   *string           `json:"content"`
					ToolCalls []json.RawMessage `json:"tool_calls"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			return fmt.Errorf("reading the body: %w", err)
		}
		if len(out.Choices) != 1 || len(out.Choices[0].Message.ToolCalls) > 0 {
			return fmt.Errorf("unexpected body %+v", out)
		}
		if c := out.Choices[0].Message.Content; c != nil {
			l.setReply(tr, *c)
		}
		return nil
	}
	r := bufio.NewReader(res.Body)
	var reply strings.Builder
	finished, usage := false, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("the stream ended before [DONE]: %w", err)
		}
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			break
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content   *string           `json:"content"`
					ToolCalls []json.RawMessage `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *json.RawMessage `json:"usage"`
			Error *json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return fmt.Errorf("stream chunk %q: %w", data, err)
		}
		if ch.Error != nil {
			return fmt.Errorf("error event: %s", *ch.Error)
		}
		if ch.Usage != nil {
			usage = true
		}
		for _, c := range ch.Choices {
			if len(c.Delta.ToolCalls) > 0 {
				return fmt.Errorf("unexpected tool calls: %s", data)
			}
			if c.Delta.Content != nil {
				reply.WriteString(*c.Delta.Content)
				l.setReply(tr, reply.String())
			}
			if c.FinishReason != nil {
				finished = true
			}
		}
	}
	if !finished || usage != tr.usage {
		return fmt.Errorf("a stream without a finish reason (%v) or with usage %v, asked %v", finished, usage, tr.usage)
	}
	return nil
}

func (l *sessionLoad) setReply(tr *turnRecord, reply string) {
	l.mu.Lock()
	tr.reply = reply
	l.mu.Unlock()
}

// storedTurn is a turn as GET /v1/sessions/{id}/turns lists it.
type storedTurn struct {
	Index     int    `json:"index"`
	User      string `json:"user"`
	Assistant string `json:"assistant"`
}

// readTurns reads all the session's turns, a few at a time; found is false on a 404.
func readTurns(t *testing.T, hc *http.Client, base, id, key string) (turns []storedTurn, found bool) {
	t.Helper()
	after := -1
	for {
		var page struct {
			Object  string       `json:"object"`
			Data    []storedTurn `json:"data"`
			HasMore bool         `json:"has_more"`
		}
		code := getJSON(t, hc, fmt.Sprintf("%s/v1/sessions/%s/turns?after=%d&limit=7", base, id, after), key, &page)
		if code == http.StatusNotFound && after == -1 {
			return nil, false
		}
		if code != http.StatusOK || page.Object != "list" {
			t.Fatalf("session %s: turns after %d: %d %+v", id, after, code, page)
		}
		turns = append(turns, page.Data...)
		if !page.HasMore {
			return turns, true
		}
		if len(page.Data) == 0 {
			t.Fatalf("session %s: an empty page after %d with has_more", id, after)
		}
		after = page.Data[len(page.Data)-1].Index
	}
}

// getJSON GETs url with key, decodes a 200's body into v (when not nil) and returns the status.
func getJSON(t *testing.T, hc *http.Client, url, key string, v any) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return res.StatusCode
}
