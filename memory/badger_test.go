package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var (
	alice = OwnerOf("key-alice")
	bob   = OwnerOf("key-bob")
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTest(t *testing.T, dir string) *BadgerStore {
	t.Helper()
	s, err := OpenBadger(dir, Options{Logger: quiet(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t *testing.T, s Store, owner Owner, id string) Session {
	t.Helper()
	sess, created, err := s.CreateOrGetSession(context.Background(), owner, id)
	if err != nil || !created {
		t.Fatalf("create %s: created %v, %v", id, created, err)
	}
	return sess
}

func vec(seed int) Vector {
	x := make([]float32, 8)
	for i := range x {
		x[i] = float32((seed*7+i*3)%11) - 5
	}
	return Quantize(x)
}

// turnWith appends turn i with a user and an assistant chunk.
func turnWith(t *testing.T, s Store, owner Owner, id string, i int) AppendResult {
	t.Helper()
	u, r := fmt.Sprintf("user says %d", i), fmt.Sprintf("reply %d", i)
	res, err := s.AppendTurn(context.Background(), owner, id,
		Turn{User: u, Reply: r, Time: time.Unix(1000+int64(i), 0)},
		[]Chunk{{Role: RoleUser, Text: u, Vector: vec(2 * i)}, {Role: RoleAssistant, Text: r, Vector: vec(2*i + 1)}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func allChunks(t *testing.T, s Store, owner Owner, id string) []Chunk {
	t.Helper()
	var out []Chunk
	if err := s.Chunks(context.Background(), owner, id, func(c Chunk) error { out = append(out, c); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// keysWithPrefix scans the database itself, under the Store's back.
func keysWithPrefix(t *testing.T, s *BadgerStore, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, string(it.Item().Key()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())

	sess := mustCreate(t, s, alice, "chat-1")
	if sess.ID != "chat-1" || sess.Owner != alice || sess.Created.IsZero() || sess.TurnCount != 0 {
		t.Fatalf("new session %+v", sess)
	}
	again, created, err := s.CreateOrGetSession(ctx, alice, "chat-1")
	if err != nil || created || again.ID != "chat-1" || !again.Created.Equal(sess.Created) {
		t.Fatalf("second create: %+v %v %v", again, created, err)
	}

	turn := Turn{User: "my cat is called Miso", Reply: "Nice name!", System: "be brief", Time: time.Unix(1700000000, 5).UTC()}
	v := Quantize([]float32{0.5, -1, 0.25, 0})
	res, err := s.AppendTurn(ctx, alice, "chat-1", turn, []Chunk{
		{Role: RoleUser, Text: turn.User, Vector: v},
		{Role: RoleAssistant, Text: turn.Reply, Vector: v},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Turn != 0 || len(res.Chunks) != 2 || res.Chunks[0].Duplicate || res.Chunks[1].Duplicate {
		t.Fatalf("append result %+v", res)
	}
	turns, err := s.Turns(ctx, alice, "chat-1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := turn
	want.Session, want.Index = "chat-1", 0
	if len(turns) != 1 || !turns[0].Time.Equal(want.Time) {
		t.Fatalf("turns %+v", turns)
	}
	turns[0].Time = want.Time
	if !reflect.DeepEqual(turns[0], want) {
		t.Fatalf("turn %+v, want %+v", turns[0], want)
	}

	chunks := allChunks(t, s, alice, "chat-1")
	if len(chunks) != 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	c := chunks[0]
	if c.ID != res.Chunks[0].ID || c.Session != "chat-1" || c.Turn != 0 || c.Role != RoleUser ||
		c.Text != turn.User || c.Hash != ContentHash(turn.User) || !reflect.DeepEqual(c.Vector, v) || c.RetrievedCount != 0 {
		t.Fatalf("chunk %+v", c)
	}
	if chunks[1].Role != RoleAssistant || chunks[1].ID != res.Chunks[1].ID {
		t.Fatalf("chunk %+v", chunks[1])
	}

	if err := s.MarkRetrieved(ctx, alice, "chat-1", []uint64{c.ID, c.ID, 999}, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetrieved(ctx, alice, "chat-1", []uint64{c.ID}, 9); err != nil {
		t.Fatal(err)
	}
	chunks = allChunks(t, s, alice, "chat-1")
	if chunks[0].LastRetrievedTurn != 9 || chunks[0].RetrievedCount != 2 || chunks[1].RetrievedCount != 0 {
		t.Fatalf("salience %+v / %+v", chunks[0], chunks[1])
	}
	if chunks[0].Text != turn.User || !reflect.DeepEqual(chunks[0].Vector, v) {
		t.Fatal("MarkRetrieved changed the chunk's content")
	}

	if _, err := s.Summary(ctx, alice, "chat-1", SummaryRunning); !errors.Is(err, ErrNotFound) {
		t.Fatalf("summary before any: %v", err)
	}
	sum := Summary{Level: SummaryRunning, Text: "User's cat: Miso.", UpTo: 1, Time: time.Unix(1700000001, 0).UTC()}
	if err := s.PutSummary(ctx, alice, "chat-1", sum); err != nil {
		t.Fatal(err)
	}
	sum2 := Summary{Level: SummaryOfSummaries, Text: "cats", UpTo: 1, Time: sum.Time}
	if err := s.PutSummary(ctx, alice, "chat-1", sum2); err != nil {
		t.Fatal(err)
	}
	for _, w := range []Summary{sum, sum2} {
		got, err := s.Summary(ctx, alice, "chat-1", w.Level)
		if err != nil || got.Text != w.Text || got.UpTo != w.UpTo || got.Level != w.Level || !got.Time.Equal(w.Time) {
			t.Fatalf("summary %d: %+v %v", w.Level, got, err)
		}
	}

	got, err := s.GetSession(ctx, alice, "chat-1")
	if err != nil || got.TurnCount != 1 || got.ChunkCount != 2 || got.Updated.Before(got.Created) {
		t.Fatalf("session %+v %v", got, err)
	}

	n, err := s.DeleteChunks(ctx, alice, "chat-1", []uint64{c.ID, c.ID, 12345})
	if err != nil || n != 1 {
		t.Fatalf("delete chunks: %d %v", n, err)
	}
	if chunks = allChunks(t, s, alice, "chat-1"); len(chunks) != 1 || chunks[0].Role != RoleAssistant {
		t.Fatalf("after delete %+v", chunks)
	}
	if got, _ = s.GetSession(ctx, alice, "chat-1"); got.ChunkCount != 1 {
		t.Fatalf("chunk count %d after delete", got.ChunkCount)
	}
	// Forgotten text can be stored again.
	res, err = s.AppendTurn(ctx, alice, "chat-1", Turn{User: turn.User, Reply: "again"},
		[]Chunk{{Role: RoleUser, Text: turn.User}, {Role: RoleAssistant, Text: "again"}})
	if err != nil || res.Turn != 1 || res.Chunks[0].Duplicate || res.Chunks[0].ID != 1<<16 {
		t.Fatalf("re-append after forgetting: %+v %v", res, err)
	}

	st, err := s.Stats(ctx)
	if err != nil || st.Sessions != 1 || st.Chunks != 3 || st.DiskBytes <= 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// Sparse preallocation must not count: an almost empty store is not gigabytes.
	if st.DiskBytes > 256<<20 {
		t.Errorf("disk bytes %d for a tiny store", st.DiskBytes)
	}

	if err := s.DeleteSession(ctx, alice, "chat-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, alice, "chat-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if st, _ = s.Stats(ctx); st.Sessions != 0 || st.Chunks != 0 {
		t.Fatalf("stats after delete %+v", st)
	}
}

func TestDedupe(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate(t, s, alice, "d")
	res, err := s.AppendTurn(ctx, alice, "d", Turn{User: "ok", Reply: "ok"},
		[]Chunk{{Role: RoleUser, Text: "ok"}, {Role: RoleAssistant, Text: "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks[0].Duplicate || !res.Chunks[1].Duplicate || res.Chunks[1].ID != res.Chunks[0].ID {
		t.Fatalf("within one turn: %+v", res)
	}
	res, err = s.AppendTurn(ctx, alice, "d", Turn{User: "hello", Reply: "ok"},
		[]Chunk{{Role: RoleUser, Text: "hello"}, {Role: RoleAssistant, Text: "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks[0].Duplicate || !res.Chunks[1].Duplicate || res.Chunks[1].ID != 0 {
		t.Fatalf("across turns: %+v", res)
	}
	if n := len(allChunks(t, s, alice, "d")); n != 2 {
		t.Fatalf("%d chunks stored, want 2", n)
	}
	if sess, _ := s.GetSession(ctx, alice, "d"); sess.ChunkCount != 2 || sess.TurnCount != 2 {
		t.Fatalf("counts %+v", sess)
	}
	// Dedupe is per session: another session stores the same text.
	mustCreate(t, s, alice, "e")
	res, err = s.AppendTurn(ctx, alice, "e", Turn{User: "ok"}, []Chunk{{Role: RoleUser, Text: "ok"}})
	if err != nil || res.Chunks[0].Duplicate {
		t.Fatalf("other session: %+v %v", res, err)
	}
}

func TestOwnerIsolation(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate(t, s, alice, "private")
	res := turnWith(t, s, alice, "private", 0)
	if err := s.PutSummary(ctx, alice, "private", Summary{Text: "secret"}); err != nil {
		t.Fatal(err)
	}

	nf := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("bob %s: %v, want ErrNotFound", what, err)
		}
	}
	_, created, err := s.CreateOrGetSession(ctx, bob, "private")
	nf("create", err)
	if created {
		t.Error("bob created alice's session")
	}
	_, err = s.GetSession(ctx, bob, "private")
	nf("get", err)
	_, err = s.Turns(ctx, bob, "private", 0, 10)
	nf("turns", err)
	called := false
	nf("chunks", s.Chunks(ctx, bob, "private", func(Chunk) error { called = true; return nil }))
	if called {
		t.Error("bob saw a chunk")
	}
	_, err = s.Summary(ctx, bob, "private", 0)
	nf("summary", err)
	nf("put summary", s.PutSummary(ctx, bob, "private", Summary{Text: "overwrite"}))
	_, err = s.AppendTurn(ctx, bob, "private", Turn{User: "x"}, nil)
	nf("append", err)
	nf("mark", s.MarkRetrieved(ctx, bob, "private", []uint64{res.Chunks[0].ID}, 3))
	_, err = s.DeleteChunks(ctx, bob, "private", []uint64{res.Chunks[0].ID})
	nf("delete chunks", err)
	_, err = s.DeleteChunks(ctx, bob, "private", nil)
	nf("delete no chunks", err)
	nf("delete", s.DeleteSession(ctx, bob, "private"))
	list, next, err := s.ListSessions(ctx, bob, "", 10)
	if err != nil || len(list) != 0 || next != "" {
		t.Errorf("bob lists %+v %q %v", list, next, err)
	}

	// Alice's session is untouched.
	sess, err := s.GetSession(ctx, alice, "private")
	if err != nil || sess.TurnCount != 1 || sess.ChunkCount != 2 {
		t.Fatalf("alice's session %+v %v", sess, err)
	}
	sum, err := s.Summary(ctx, alice, "private", 0)
	if err != nil || sum.Text != "secret" {
		t.Fatalf("alice's summary %+v %v", sum, err)
	}
	if c := allChunks(t, s, alice, "private"); c[0].RetrievedCount != 0 {
		t.Fatal("bob's MarkRetrieved counted")
	}
	if list, _, _ = s.ListSessions(ctx, alice, "", 10); len(list) != 1 {
		t.Fatalf("alice lists %+v", list)
	}

	// A raw key is refused rather than stored.
	if _, _, err := s.CreateOrGetSession(ctx, Owner("key-alice"), "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("raw key as owner: %v", err)
	}
}

func TestListSessionsPaged(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("s%02d", i)
		want = append(want, id)
		mustCreate(t, s, alice, id)
	}
	mustCreate(t, s, bob, "s03x")
	var got []string
	cursor, pages := "", 0
	for {
		list, next, err := s.ListSessions(ctx, alice, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, sess := range list {
			if sess.Owner != alice {
				t.Fatalf("listed %+v", sess)
			}
			got = append(got, sess.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !reflect.DeepEqual(got, want) || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %v in 3", got, pages, want)
	}
	if _, _, err := s.ListSessions(ctx, alice, "", 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
	if _, _, err := s.ListSessions(ctx, alice, "bad/cursor", 3); !errors.Is(err, ErrInvalidSessionID) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestTurnsPaged(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate(t, s, alice, "long")
	// More than 256 turns, so big-endian keys (not byte-wise little-endian) keep the order.
	const n = 300
	for i := range n {
		if res := turnWith(t, s, alice, "long", i); res.Turn != i {
			t.Fatalf("turn %d got index %d", i, res.Turn)
		}
	}
	next := 0
	for next < n {
		page, err := s.Turns(ctx, alice, "long", next, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != min(64, n-next) {
			t.Fatalf("page at %d has %d turns", next, len(page))
		}
		for _, tu := range page {
			if tu.Index != next || tu.User != fmt.Sprintf("user says %d", next) {
				t.Fatalf("turn %+v, want index %d", tu, next)
			}
			next++
		}
	}
	if page, err := s.Turns(ctx, alice, "long", n, 10); err != nil || len(page) != 0 {
		t.Fatalf("past the end: %d %v", len(page), err)
	}
	chunks := allChunks(t, s, alice, "long")
	if len(chunks) != 2*n {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i := 1; i < len(chunks); i++ {
		if chunks[i].Turn < chunks[i-1].Turn || chunks[i].ID <= chunks[i-1].ID {
			t.Fatalf("chunks out of order at %d", i)
		}
	}
	// The scan stops on the callback's error.
	stop := errors.New("stop")
	count := 0
	err := s.Chunks(ctx, alice, "long", func(Chunk) error {
		if count++; count == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || count != 5 {
		t.Fatalf("stopped scan: %v after %d", err, count)
	}
	if _, err := s.Turns(ctx, alice, "long", -1, 10); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative from: %v", err)
	}
}

func TestDeleteSessionLeavesNoKey(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate(t, s, alice, "gone")
	mustCreate(t, s, alice, "gone2") // shares the prefix "s/gone" but not "s/gone/"
	for i := range 5 {
		turnWith(t, s, alice, "gone", i)
		turnWith(t, s, alice, "gone2", i)
	}
	s.PutSummary(ctx, alice, "gone", Summary{Text: "x"})
	if len(keysWithPrefix(t, s, "s/gone/")) == 0 {
		t.Fatal("no keys before delete")
	}
	if err := s.DeleteSession(ctx, alice, "gone"); err != nil {
		t.Fatal(err)
	}
	if keys := keysWithPrefix(t, s, "s/gone/"); len(keys) != 0 {
		t.Fatalf("keys left: %q", keys)
	}
	if keys := keysWithPrefix(t, s, string(ownerKey(alice, "gone"))); len(keys) != 1 { // only gone2's
		t.Fatalf("owner index left: %q", keys)
	}
	if n := len(allChunks(t, s, alice, "gone2")); n != 10 {
		t.Fatalf("the neighbour lost chunks: %d", n)
	}
	if err := s.DeleteSession(ctx, alice, "gone"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Leftovers of an interrupted delete (the meta gone, data keys still there) are swept
	// before the id is used again.
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(turnKey("gone", 0), encodeTurn(Turn{User: "stale"}))
	}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, alice, "gone")
	if turns, _ := s.Turns(ctx, alice, "gone", 0, 10); len(turns) != 0 {
		t.Fatalf("stale turn visible: %+v", turns)
	}
	// And the id is free for anyone once deleted.
	if err := s.DeleteSession(ctx, alice, "gone"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, bob, "gone")
}

func TestDurableAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenBadger(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, alice, "a")
	mustCreate(t, s, bob, "b")
	for i := range 20 {
		turnWith(t, s, alice, "a", i)
	}
	turnWith(t, s, bob, "b", 0)
	s.PutSummary(ctx, alice, "a", Summary{Text: "twenty turns", UpTo: 20})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := s.GetSession(ctx, alice, "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}

	s2 := openTest(t, dir)
	sess, err := s2.GetSession(ctx, alice, "a")
	if err != nil || sess.TurnCount != 20 || sess.ChunkCount != 40 {
		t.Fatalf("reopened %+v %v", sess, err)
	}
	turns, err := s2.Turns(ctx, alice, "a", 0, 100)
	if err != nil || len(turns) != 20 || turns[19].Reply != "reply 19" {
		t.Fatalf("turns after reopen: %d %v", len(turns), err)
	}
	if sum, err := s2.Summary(ctx, alice, "a", 0); err != nil || sum.Text != "twenty turns" {
		t.Fatalf("summary after reopen %+v %v", sum, err)
	}
	if st, _ := s2.Stats(ctx); st.Sessions != 2 || st.Chunks != 42 {
		t.Fatalf("stats recounted at open: %+v", st)
	}
	// Appending continues the numbering.
	if res := turnWith(t, s2, alice, "a", 20); res.Turn != 20 {
		t.Fatalf("next turn index %d", res.Turn)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	s2, err := OpenBadger(dir, Options{Logger: quiet(), GCInterval: -1})
	if err == nil {
		s2.Close()
		t.Fatal("second open of the same directory succeeded")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "memory store "+dir+" is in use by another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	src := openTest(t, t.TempDir())
	mustCreate(t, src, alice, "a")
	mustCreate(t, src, bob, "b")
	for i := range 10 {
		turnWith(t, src, alice, "a", i)
	}
	turnWith(t, src, bob, "b", 0)
	src.PutSummary(ctx, alice, "a", Summary{Text: "ten", UpTo: 10})
	src.MarkRetrieved(ctx, alice, "a", []uint64{0}, 4)
	src.DeleteChunks(ctx, alice, "a", []uint64{1 << 16})
	var buf bytes.Buffer
	if err := src.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}

	dst := openTest(t, t.TempDir())
	if err := dst.Import(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		owner Owner
		id    string
	}{{alice, "a"}, {bob, "b"}} {
		a, err1 := src.GetSession(ctx, o.owner, o.id)
		b, err2 := dst.GetSession(ctx, o.owner, o.id)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("session %s: %+v %v / %+v %v", o.id, a, err1, b, err2)
		}
		ta, _ := src.Turns(ctx, o.owner, o.id, 0, 100)
		tb, _ := dst.Turns(ctx, o.owner, o.id, 0, 100)
		if !reflect.DeepEqual(ta, tb) {
			t.Fatalf("turns of %s differ", o.id)
		}
		if ca, cb := allChunks(t, src, o.owner, o.id), allChunks(t, dst, o.owner, o.id); !reflect.DeepEqual(ca, cb) {
			t.Fatalf("chunks of %s differ: %d / %d", o.id, len(ca), len(cb))
		}
	}
	if sum, err := dst.Summary(ctx, alice, "a", 0); err != nil || sum.Text != "ten" {
		t.Fatalf("summary %+v %v", sum, err)
	}
	sa, _ := src.Stats(ctx)
	sb, _ := dst.Stats(ctx)
	if sa.Sessions != sb.Sessions || sa.Chunks != sb.Chunks {
		t.Fatalf("stats %+v / %+v", sa, sb)
	}
	if _, err := dst.GetSession(ctx, bob, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ownership not carried: %v", err)
	}
	// Importing into a store with data is refused.
	if err := dst.Import(ctx, bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second import: %v", err)
	}
}

func TestCorruptValue(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate(t, s, alice, "ok")
	turnWith(t, s, alice, "ok", 0)
	put := func(key []byte, val []byte) {
		t.Helper()
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
			t.Fatal(err)
		}
	}
	// A length prefix claiming a 64 MiB string, in a value of 6 bytes: refused as truncated
	// before anything is allocated.
	huge := []byte{formatV1, 0, 0xff, 0xff, 0xff, 0x1f}
	garbage := []byte("\x01garbage\xff\xff")

	check := func(what string, err error, key []byte) {
		t.Helper()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), string(key[:len(key)-8])) {
			t.Errorf("%s: %v, want ErrCorrupt naming the key", what, err)
		}
	}

	put(turnKey("ok", 1), huge)
	_, err := s.Turns(ctx, alice, "ok", 0, 10)
	check("turn", err, turnKey("ok", 1))

	put(chunkKey("ok", 5), garbage)
	check("chunk", s.Chunks(ctx, alice, "ok", func(Chunk) error { return nil }), chunkKey("ok", 5))
	check("mark", s.MarkRetrieved(ctx, alice, "ok", []uint64{5}, 1), chunkKey("ok", 5))

	put(summaryKey("ok", 0), huge)
	_, err = s.Summary(ctx, alice, "ok", 0)
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("summary: %v", err)
	}

	put(metaKey("ok"), garbage)
	_, err = s.GetSession(ctx, alice, "ok")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"s/ok/m"`) {
		t.Errorf("meta: %v", err)
	}
	// A corrupt meta also fails the open's recount, with the key named.
	dir := s.Dir()
	s.Close()
	_, err = OpenBadger(dir, Options{Logger: quiet(), GCInterval: -1})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"s/ok/m"`) {
		t.Errorf("open with corrupt meta: %v", err)
	}
}

func TestContextAndClosed(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.CreateOrGetSession(ctx, alice, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := s.Export(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
}

func TestGCTimer(t *testing.T) {
	// The timer runs and Close stops it (a leaked goroutine would race the closed DB).
	s, err := OpenBadger(t.TempDir(), Options{Logger: quiet(), GCInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, alice, "g")
	time.Sleep(30 * time.Millisecond)
	if err := s.RunGC(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.RunGC(); !errors.Is(err, ErrClosed) {
		t.Fatalf("gc after close: %v", err)
	}
}

func TestValidSessionID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"chat-2024.01_x:y", true},
		{"ABCxyz019", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{strings.Repeat("a", 129), false},
		{"a/b", false},
		{"a b", false},
		{"é", false},
		{"a\x00", false},
		{"../x", false},
		{"a?b", false},
	} {
		err := ValidSessionID(tc.id)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidSessionID)) {
			t.Errorf("ValidSessionID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
	s := openTest(t, t.TempDir())
	if _, _, err := s.CreateOrGetSession(context.Background(), alice, "a/b"); !errors.Is(err, ErrInvalidSessionID) {
		t.Fatalf("store accepted a bad id: %v", err)
	}
}

// Concurrent appends to one session get distinct, consecutive turn indexes and exact counts;
// appends to other sessions go on alongside.
func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate(t, s, alice, "busy")
	mustCreate(t, s, bob, "other")
	const workers, each = 8, 10
	errs := make(chan error, 2*workers)
	indexes := make(chan int, workers*each)
	for w := range workers {
		go func() {
			for i := range each {
				text := fmt.Sprintf("w%d-%d", w, i)
				res, err := s.AppendTurn(ctx, alice, "busy", Turn{User: text}, []Chunk{{Role: RoleUser, Text: text}})
				if err != nil {
					errs <- err
					return
				}
				indexes <- res.Turn
			}
			errs <- nil
		}()
		go func() {
			_, err := s.AppendTurn(ctx, bob, "other", Turn{User: "x"}, []Chunk{{Role: RoleUser, Text: fmt.Sprint(w)}})
			errs <- err
		}()
	}
	for range 2 * workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(indexes)
	seen := map[int]bool{}
	for i := range indexes {
		if seen[i] || i < 0 || i >= workers*each {
			t.Fatalf("turn index %d repeated or out of range", i)
		}
		seen[i] = true
	}
	sess, _ := s.GetSession(ctx, alice, "busy")
	if sess.TurnCount != workers*each || sess.ChunkCount != workers*each {
		t.Fatalf("counts %+v", sess)
	}
	if other, _ := s.GetSession(ctx, bob, "other"); other.TurnCount != workers {
		t.Fatalf("other session %+v", other)
	}
	if st, _ := s.Stats(ctx); st.Chunks != workers*each+workers || st.Sessions != 2 {
		t.Fatalf("stats %+v", st)
	}
}
