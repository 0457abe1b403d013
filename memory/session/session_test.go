package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/retrieve"
	"github.com/arborlabs/arbor/runtime/chat"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T, dir string) *memory.BadgerStore {
	t.Helper()
	s, err := memory.OpenBadger(dir, memory.Options{Logger: quiet(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newManager(t *testing.T, store memory.Store, cfg Config) *Manager {
	t.Helper()
	cfg.Store, cfg.Log = store, quiet()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// words counts a prompt's tokens as words plus a few per message: close enough to a template.
func words(msgs []chat.Message) (int, error) {
	n := 0
	for _, m := range msgs {
		n += 4 + len(strings.Fields(m.Content))
	}
	return n, nil
}

var alice = memory.OwnerOf("alice-key")

func user(text string) chat.Message      { return chat.Message{Role: "user", Content: text} }
func assistant(text string) chat.Message { return chat.Message{Role: "assistant", Content: text} }

// turn runs one request that sends only its new message, and commits reply.
func turn(t *testing.T, m *Manager, owner memory.Owner, id, msg, reply string) *Pending {
	t.Helper()
	p, err := m.Begin(context.Background(), Request{Owner: owner, Session: id,
		Messages: []chat.Message{user(msg)}, Budget: 3500, Count: words})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Commit(context.Background(), reply); err != nil {
		t.Fatal(err)
	}
	return p
}

func turnsOf(t *testing.T, s memory.Store, owner memory.Owner, id string) []memory.Turn {
	t.Helper()
	ts, err := s.Turns(context.Background(), owner, id, 0, memory.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func systemOf(msgs []chat.Message) string {
	if len(msgs) > 0 && msgs[0].Role == "system" {
		return msgs[0].Content
	}
	return ""
}

func TestRetrievesAnOldFactIntoThePrompt(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	turn(t, m, alice, "s1", "My sister Imogen lives in Reykjavik.", "Noted.")
	for i := range 6 {
		turn(t, m, alice, "s1", fmt.Sprintf("Filler message number %d about the weather.", i), "Sure.")
	}
	p, err := m.Begin(context.Background(), Request{Owner: alice, Session: "s1",
		Messages: []chat.Message{{Role: "system", Content: "Be brief."}, user("Where does Imogen live?")}, Budget: 3500, Count: words})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sys := systemOf(p.Messages)
	if !strings.HasPrefix(sys, "Be brief.") || !strings.Contains(sys, "Reykjavik") {
		t.Fatalf("system message lacks the client's system or the fact:\n%s", sys)
	}
	if p.Retrieved == 0 || p.MemoryTokens == 0 {
		t.Fatalf("retrieved %d chunks, %d memory tokens", p.Retrieved, p.MemoryTokens)
	}
	// The last two turns verbatim, then the new message.
	n := len(p.Messages)
	if got := p.Messages[n-1]; got.Content != "Where does Imogen live?" {
		t.Fatalf("last message %+v", got)
	}
	if p.Messages[n-5].Content != "Filler message number 4 about the weather." || p.Messages[n-3].Content != "Filler message number 5 about the weather." {
		t.Fatalf("recent turns wrong: %+v", p.Messages)
	}
	// The recent turns' chunks are not retrieved again.
	if _, retrieved, _ := strings.Cut(sys, "Earlier messages"); strings.Contains(retrieved, "number 5") {
		t.Fatalf("a recent turn's chunk was retrieved:\n%s", sys)
	}
}

func TestUncommittedRequestStoresNothing(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	ctx := context.Background()
	// A new session whose first request fails leaves no session behind, even with history
	// to backfill.
	p, err := m.Begin(ctx, Request{Owner: alice, Session: "new", Budget: 3500, Count: words,
		Messages: []chat.Message{user("a"), assistant("b"), user("c")}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := store.GetSession(ctx, alice, "new"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("session after a failed first request: %v", err)
	}
	// An existing session keeps what it had; the backfill searched during the request is
	// gone from retrieval.
	turn(t, m, alice, "old", "first question about zebras", "first answer")
	p, err = m.Begin(ctx, Request{Owner: alice, Session: "old", Budget: 3500, Count: words,
		Messages: []chat.Message{user("first question about zebras"), assistant("first answer"),
			user("unrelated words about giraffes"), assistant("giraffe reply"), user("next")}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if ts := turnsOf(t, store, alice, "old"); len(ts) != 1 {
		t.Fatalf("%d turns after a failed request, want 1", len(ts))
	}
	hits, err := m.Search(ctx, alice, "old", "giraffes", 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if strings.Contains(h.Text, "giraffe") {
			t.Fatalf("an uncommitted backfill chunk is still retrievable: %+v", h)
		}
	}
}

func TestBackfillNeitherDuplicatesNorLoses(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	ctx := context.Background()
	history := []chat.Message{}
	// A client that sends its whole history each time.
	for i := range 4 {
		msgs := append(append([]chat.Message(nil), history...), user(fmt.Sprintf("question %d", i)))
		p, err := m.Begin(ctx, Request{Owner: alice, Session: "full", Budget: 3500, Count: words, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		reply := fmt.Sprintf("answer %d", i)
		if err := p.Commit(ctx, reply); err != nil {
			t.Fatal(err)
		}
		p.Close()
		history = append(msgs, assistant(reply))
	}
	ts := turnsOf(t, store, alice, "full")
	if len(ts) != 4 {
		t.Fatalf("%d turns stored, want 4", len(ts))
	}
	for i, tr := range ts {
		if tr.User != fmt.Sprintf("question %d", i) || tr.Reply != fmt.Sprintf("answer %d", i) {
			t.Fatalf("turn %d = %q/%q", i, tr.User, tr.Reply)
		}
	}
	// A client that had the conversation elsewhere and brings it: the history is stored
	// first, in order, and searched in the same request.
	msgs := []chat.Message{user("my locker code is 4417"), assistant("ok"), user("tell me a joke"), assistant("no"),
		user("what about the weather"), assistant("rain"), user("What was my locker code?")}
	p, err := m.Begin(ctx, Request{Owner: alice, Session: "brought", Budget: 3500, Count: words, Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(systemOf(p.Messages), "4417") {
		t.Fatalf("the backfilled fact is not in the prompt: %+v", p.Messages)
	}
	if err := p.Commit(ctx, "4417"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	ts = turnsOf(t, store, alice, "brought")
	if len(ts) != 4 || ts[0].User != "my locker code is 4417" || ts[3].User != "What was my locker code?" {
		t.Fatalf("turns %+v", ts)
	}
	hits, err := m.Search(ctx, alice, "brought", "locker code", 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range hits {
		if seen[h.Text] {
			t.Fatalf("chunk %q retrieved twice", h.Text)
		}
		seen[h.Text] = true
		if h.Chunk == tempChunk {
			t.Fatalf("a committed chunk kept its temporary id: %+v", h)
		}
	}
	if !seen["my locker code is 4417"] {
		t.Fatalf("hits %+v", hits)
	}
}

func TestOneRequestAtATimePerSession(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	ctx := context.Background()
	req := Request{Owner: alice, Session: "busy", Budget: 3500, Count: words, Messages: []chat.Message{user("one")}}
	p1, err := m.Begin(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan *Pending)
	go func() {
		r := req
		r.Messages = []chat.Message{user("two")}
		p, err := m.Begin(ctx, r)
		if err != nil {
			t.Error(err)
		}
		second <- p
	}()
	// Another session is not held up.
	p3, err := m.Begin(ctx, Request{Owner: alice, Session: "other", Budget: 3500, Count: words, Messages: []chat.Message{user("x")}})
	if err != nil {
		t.Fatal(err)
	}
	p3.Close()
	select {
	case <-second:
		t.Fatal("a second request to the session began while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	if err := p1.Commit(ctx, "reply one"); err != nil {
		t.Fatal(err)
	}
	p1.Close()
	p2 := <-second
	if p2 == nil {
		t.FailNow()
	}
	// The second sees the first's turn.
	if got := p2.Messages[len(p2.Messages)-2]; got.Content != "reply one" {
		t.Fatalf("second request's recent turn: %+v", p2.Messages)
	}
	p2.Close()
	// A waiter whose context ends gives up its place.
	p1, _ = m.Begin(ctx, req)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := m.Begin(cctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	p1.Close()
}

func TestSessionsBelongToTheirOwner(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	ctx := context.Background()
	turn(t, m, alice, "mine", "secret plans", "kept")
	bob := memory.OwnerOf("bob-key")
	if _, err := m.Begin(ctx, Request{Owner: bob, Session: "mine", Budget: 3500, Count: words,
		Messages: []chat.Message{user("hi")}}); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("another owner's request: %v", err)
	}
	if _, err := m.Search(ctx, bob, "mine", "secret", 5); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("another owner's search: %v", err)
	}
	if err := m.Delete(ctx, bob, "mine"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("another owner's delete: %v", err)
	}
	if ts := turnsOf(t, store, alice, "mine"); len(ts) != 1 {
		t.Fatalf("owner's turns after another's attempts: %d", len(ts))
	}
	if err := m.Delete(ctx, alice, "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Search(ctx, alice, "mine", "secret", 5); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("search after delete: %v", err)
	}
}

func TestSummaryFollowsTheTurns(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	ctx := context.Background()
	turn(t, m, alice, "sum", "I adopted a greyhound named Pixel in March.", "Congratulations on Pixel.")
	// The next request waits for the summary.
	p, err := m.Begin(ctx, Request{Owner: alice, Session: "sum", Budget: 3500, Count: words, Messages: []chat.Message{user("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := store.Summary(ctx, alice, "sum", memory.SummaryRunning)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Text, "Pixel") || s.UpTo != 1 {
		t.Fatalf("summary %+v", s)
	}
	if !strings.Contains(systemOf(p.Messages), "Summary of the conversation so far: ") {
		t.Fatalf("no summary in the prompt: %+v", p.Messages)
	}
}

func TestForgetsTheLeastSalient(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	// Every 10 turns, a tenth of the chunks.
	m := newManager(t, store, Config{ForgetEvery: 10, ForgetFraction: 0.1})
	ctx := context.Background()
	chunks := func() map[uint64]memory.Chunk {
		out := map[uint64]memory.Chunk{}
		if err := store.Chunks(ctx, alice, "f", func(c memory.Chunk) error { out[c.ID] = c; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i := range 9 {
		turn(t, m, alice, "f", fmt.Sprintf("message %d with distinct word w%d", i, i), fmt.Sprintf("reply %d", i))
	}
	if _, err := m.Search(ctx, alice, "f", "x", 1); err != nil { // waits for the jobs
		t.Fatal(err)
	}
	if n := len(chunks()); n != 18 {
		t.Fatalf("%d chunks before the tenth turn, want 18 (nothing forgotten yet)", n)
	}
	turn(t, m, alice, "f", "message 9 with distinct word w9", "reply 9")
	if _, err := m.Search(ctx, alice, "f", "x", 1); err != nil {
		t.Fatal(err)
	}
	left := chunks()
	if len(left) != 18 {
		t.Fatalf("%d chunks left after the tenth turn, want 18 of 20", len(left))
	}
	// What was forgotten is not retrieved any more, however well it matches.
	hits, err := m.Search(ctx, alice, "f", "message with distinct word reply", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 18 {
		t.Fatalf("%d hits, want the 18 chunks left", len(hits))
	}
	for _, h := range hits {
		if _, ok := left[h.Chunk]; !ok {
			t.Fatalf("a forgotten chunk is retrieved: %+v", h)
		}
	}

	// The choice: the lowest salience as of the turn, by age and recent retrieval.
	before := chunks()
	var states []retrieve.ChunkState
	for _, c := range before {
		recently := 0.0
		if c.RetrievedCount > 0 && 19-c.LastRetrievedTurn < 10 {
			recently = 1
		}
		states = append(states, retrieve.ChunkState{ID: chunkRID(c.ID), Age: float64(19 - c.Turn), RecentlyRetrieved: recently})
	}
	want := retrieve.DefaultSalience.Forget(states, 0.1)
	e, err := m.entry(ctx, alice, "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.forget(ctx, alice, "f", 19, e); err != nil {
		t.Fatal(err)
	}
	after := chunks()
	if len(after) != len(before)-len(want) || len(want) != 1 {
		t.Fatalf("forgot %d of %d, want %v", len(before)-len(after), len(before), want)
	}
	for _, rid := range want {
		var id uint64
		fmt.Sscan(rid, &id)
		if _, ok := after[id]; ok {
			t.Fatalf("chunk %s of lowest salience kept", rid)
		}
		if _, ok := e.infos[rid]; ok {
			t.Fatalf("chunk %s forgotten in the store but still indexed", rid)
		}
	}
}

func TestMemorySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	m := newManager(t, store, Config{})
	turn(t, m, alice, "r", "The wifi password is tangerine-42.", "Saved.")
	turn(t, m, alice, "r", "Let us talk about football.", "Sure.")
	turn(t, m, alice, "r", "And now about cooking.", "Sure.")
	m.Close()
	store.Close()

	store = openStore(t, dir)
	defer store.Close()
	m = newManager(t, store, Config{})
	p, err := m.Begin(context.Background(), Request{Owner: alice, Session: "r", Budget: 3500, Count: words,
		Messages: []chat.Message{user("What is the wifi password?")}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.Contains(systemOf(p.Messages), "tangerine-42") {
		t.Fatalf("after a restart the fact is not retrieved: %+v", p.Messages)
	}
}

func TestBudgetTrimsMemoryFirst(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	for i := range 10 {
		turn(t, m, alice, "b", fmt.Sprintf("budget test message %d with several more words in it", i), "reply")
	}
	ctx := context.Background()
	big, err := m.Begin(ctx, Request{Owner: alice, Session: "b", Budget: 3500, Count: words, Messages: []chat.Message{user("budget test message")}})
	if err != nil {
		t.Fatal(err)
	}
	big.Close()
	small, err := m.Begin(ctx, Request{Owner: alice, Session: "b", Budget: 40, Count: words, Messages: []chat.Message{user("budget test message")}})
	if err != nil {
		t.Fatal(err)
	}
	small.Close()
	if n, _ := words(small.Messages); n > 40 || small.Retrieved >= big.Retrieved {
		t.Fatalf("budget 40: %d tokens, %d chunks (unbounded: %d)", n, small.Retrieved, big.Retrieved)
	}
	if _, err := m.Begin(ctx, Request{Owner: alice, Session: "b", Budget: 3, Count: words,
		Messages: []chat.Message{user("far too long for three tokens")}}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("budget below the new message: %v", err)
	}
}

// TestSummaryOfSummaries: at every 100 turns the running summary is merged into the summary of
// the summaries, also when the turns come in one backfill; both reach the prompt.
func TestSummaryOfSummaries(t *testing.T) {
	store := openStore(t, t.TempDir())
	defer store.Close()
	m := newManager(t, store, Config{})
	ctx := context.Background()
	var msgs []chat.Message
	for i := range 101 {
		msgs = append(msgs, user(fmt.Sprintf("Fact %d: the locker number %d belongs to Dana.", i, 1000+i)),
			assistant(fmt.Sprintf("Noted %d.", i)))
	}
	msgs = append(msgs, user("What do you remember?"))
	p, err := m.Begin(ctx, Request{Owner: alice, Session: "long", Budget: 3500, Count: words, Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "Lockers."); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := m.Search(ctx, alice, "long", "x", 1); err != nil { // waits for the summaries
		t.Fatal(err)
	}
	s1, err := store.Summary(ctx, alice, "long", memory.SummaryOfSummaries)
	if err != nil || s1.UpTo != 100 || s1.Text == "" {
		t.Fatalf("summary of summaries %+v, %v", s1, err)
	}
	s0, err := store.Summary(ctx, alice, "long", memory.SummaryRunning)
	if err != nil || s0.UpTo != 102 {
		t.Fatalf("running summary %+v, %v", s0, err)
	}
	text, err := m.Summary(ctx, alice, "long")
	if err != nil || !strings.HasPrefix(text, s1.Text) || !strings.HasSuffix(text, s0.Text) {
		t.Fatalf("session summary %q", text)
	}
}
