// Package session serves chat requests that name a session: it puts the session's memory
// into the request's prompt and stores the finished turn. One request goes through it as
//
//	p, err := m.Begin(ctx, req)   // wait for the session, reconcile, retrieve, assemble
//	defer p.Close()               // releases the session; stores nothing unless committed
//	... generate from p.Messages ...
//	err = p.Commit(ctx, reply)    // one synced write per turn, before the response ends
//
// Requests to one session are served one at a time, in arrival order; requests to different
// sessions never wait for each other. The work that can wait (the running summary, the
// retrieval history, forgetting) runs after the commit, off the request's path: the session's
// next request waits for it only if it is not done yet.
//
// Each session's chunks are searched in memory (a retrieve.Retriever built from one scan of
// the store the first time the session is used, then kept up to date by the commits); the
// retrievers of the least recently used sessions are dropped when the chunks held pass a bound.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/arborlabs/arbor/memory"
	"github.com/arborlabs/arbor/memory/assemble"
	"github.com/arborlabs/arbor/memory/compact"
	"github.com/arborlabs/arbor/memory/embed"
	"github.com/arborlabs/arbor/memory/reconcile"
	"github.com/arborlabs/arbor/memory/retrieve"
	"github.com/arborlabs/arbor/memory/serial"
	"github.com/arborlabs/arbor/runtime/chat"
)

// Defaults of Config's zero values.
const (
	DefaultK           = 8
	DefaultRecentTurns = 2
	DefaultCacheChunks = 500_000
	DefaultForgetEvery = 100
)

// Config is what a Manager is made of.
type Config struct {
	Store memory.Store
	// Embedder embeds chunks and queries (nil: the built-in hashed n-gram embedder).
	Embedder embed.Embedder
	// Summarizer keeps the running summary (nil: compact.Extractive).
	Summarizer compact.Summarizer
	// K is how many chunks a request retrieves (0: DefaultK); the budget may keep fewer.
	K int
	// RecentTurns are put into the prompt verbatim (0: DefaultRecentTurns).
	RecentTurns int
	// CacheChunks bounds the chunks held in memory by all sessions' retrievers together
	// (0: DefaultCacheChunks): about 0.6 KB each with 512-dimension vectors.
	CacheChunks int
	// Workers is how many sessions' summaries are updated at once (0: 1).
	Workers int
	// Salience is the forgetting score (zero: retrieve.DefaultSalience); every ForgetEvery
	// turns (0: DefaultForgetEvery) the ForgetFraction (0: retrieve.ForgetFraction) of the
	// session's chunks of lowest salience are dropped.
	Salience       retrieve.Salience
	ForgetEvery    int
	ForgetFraction float64
	// Log receives the failures of the background work (nil: slog.Default()).
	Log *slog.Logger
}

// Manager serves the requests to sessions.
type Manager struct {
	cfg    Config
	keys   serial.Keys
	worker *compact.Worker
	cache  *cache
}

// New returns a Manager over cfg.Store. Close it before closing the store.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("session: no store")
	}
	if cfg.Embedder == nil {
		cfg.Embedder = embed.NewHashed(0)
	}
	if cfg.Summarizer == nil {
		cfg.Summarizer = &compact.Extractive{}
	}
	if cfg.K <= 0 {
		cfg.K = DefaultK
	}
	if cfg.RecentTurns <= 0 {
		cfg.RecentTurns = DefaultRecentTurns
	}
	if cfg.CacheChunks <= 0 {
		cfg.CacheChunks = DefaultCacheChunks
	}
	if cfg.Salience == (retrieve.Salience{}) {
		cfg.Salience = retrieve.DefaultSalience
	}
	if cfg.ForgetEvery <= 0 {
		cfg.ForgetEvery = DefaultForgetEvery
	}
	if cfg.ForgetFraction <= 0 {
		cfg.ForgetFraction = retrieve.ForgetFraction
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Manager{cfg: cfg, worker: compact.NewWorker(max(cfg.Workers, 1)), cache: newCache(cfg.CacheChunks)}, nil
}

// Store is the manager's store.
func (m *Manager) Store() memory.Store { return m.cfg.Store }

// Embedder is the manager's embedder.
func (m *Manager) Embedder() embed.Embedder { return m.cfg.Embedder }

// Close stops the background work (the queued summaries of this run are dropped; the turns
// they would summarise are stored).
func (m *Manager) Close() { m.worker.Close() }

// Request is a chat request to a session.
type Request struct {
	Owner    memory.Owner
	Session  string
	Messages []chat.Message
	// Budget is the most tokens the assembled prompt may have; Count counts a prompt's tokens
	// through the model's chat template.
	Budget int
	Count  assemble.Count
}

// Errors Begin returns besides the store's (memory.ErrNotFound for another owner's session,
// memory.ErrInvalidSessionID): both are the client's mistakes.
var (
	ErrNoNewMessage = reconcile.ErrNoNewMessage
	ErrTooLong      = assemble.ErrTooLong
)

// Pending is a request in progress: it holds its session until Close.
type Pending struct {
	m        *Manager
	owner    memory.Owner
	id, key  string
	release  func()
	created  bool // the session was created by this request
	entry    *entry
	base     int // the session's turn count when the request began
	system   string
	backfill []turnIn
	next     turnIn // the new turn, its reply still empty
	picked   []uint64
	temp     []string // the retriever ids of the backfill's chunks until they are stored
	done     bool

	// Messages is the prompt to generate from: system (with the summary and the retrieved
	// chunks folded in), the last turns, the new message.
	Messages []chat.Message
	// MemoryTokens is what the summary and the chunks added to the prompt; Retrieved the
	// chunks kept in it.
	MemoryTokens, Retrieved int
	// Retrieval is the time the search took (embedding the query included); Overhead the rest
	// of Begin's time, waiting aside; SummaryWait the time Begin waited for the session's
	// background work of the turn before (its summary), which a client that pauses between
	// turns never sees.
	Retrieval, Overhead, SummaryWait time.Duration
}

// turnIn is a turn to be stored with its chunks' vectors.
type turnIn struct {
	user, reply string
	userVec     []float32
	replyVec    []float32 // backfill only: a new turn's reply is embedded at Commit
}

// Begin waits for the session (behind the requests to it that came first), works out which
// of req.Messages are new, and assembles the prompt. The caller must Close the result.
func (m *Manager) Begin(ctx context.Context, req Request) (*Pending, error) {
	if err := memory.ValidSessionID(req.Session); err != nil {
		return nil, err
	}
	key := string(req.Owner) + "/" + req.Session
	release, err := m.keys.Acquire(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("waiting for session %s: %w", req.Session, err)
	}
	p := &Pending{m: m, owner: req.Owner, id: req.Session, key: key, release: release}
	if err := p.begin(ctx, req); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Pending) begin(ctx context.Context, req Request) error {
	m := p.m
	// The summary and the forgetting of the session's last turn, if not done yet.
	start := time.Now()
	if err := m.worker.Wait(ctx, p.key); err != nil {
		return err
	}
	p.SummaryWait = time.Since(start)
	start = time.Now()
	sess, created, err := m.cfg.Store.CreateOrGetSession(ctx, p.owner, p.id)
	if err != nil {
		return err
	}
	p.created, p.base = created, sess.TurnCount
	split, err := reconcile.Reconcile(&storedTurns{ctx: ctx, s: m.cfg.Store, owner: p.owner, id: p.id, n: sess.TurnCount},
		req.Messages)
	if err != nil {
		return err
	}
	p.system = split.System
	var newUser []string
	for _, msg := range split.New {
		newUser = append(newUser, reconcile.Text(msg))
	}
	p.next.user = strings.Join(newUser, "\n")

	if p.entry, err = m.entry(ctx, p.owner, p.id); err != nil {
		return err
	}
	// Embed the query and the backfill's texts in one call.
	texts := []string{p.next.user}
	for _, t := range split.Backfill {
		texts = append(texts, t.User, t.Reply)
	}
	overhead := time.Since(start)
	rstart := time.Now()
	vecs, err := m.embed(ctx, texts)
	if err != nil {
		return err
	}
	p.next.userVec = vecs[0]
	for i, t := range split.Backfill {
		p.backfill = append(p.backfill, turnIn{user: t.User, reply: t.Reply, userVec: vecs[1+2*i], replyVec: vecs[2+2*i]})
	}
	// The backfill is searched with the rest: its chunks go into the retriever under
	// temporary ids, replaced by the stored ones at Commit and removed if there is none.
	for i, t := range p.backfill {
		turn := p.base + i
		for j, c := range []struct {
			role memory.Role
			text string
			vec  []float32
		}{{memory.RoleUser, t.user, t.userVec}, {memory.RoleAssistant, t.reply, t.replyVec}} {
			rid := "b" + strconv.Itoa(i) + "." + strconv.Itoa(j)
			added, err := p.entry.add(rid, info{turn: turn, role: c.role, text: c.text}, memory.Quantize(c.vec))
			if err != nil {
				return err
			}
			if added {
				p.temp = append(p.temp, rid)
			}
		}
	}
	// The last turns go into the prompt whole; retrieving their chunks too would spend the
	// budget twice.
	recentFrom := p.base + len(p.backfill) - m.cfg.RecentTurns
	hits, err := p.entry.r.Search(ctx, p.next.user, p.next.userVec, m.cfg.K+2*m.cfg.RecentTurns)
	if err != nil {
		return err
	}
	var chunks []assemble.Chunk
	var ids []uint64
	for _, h := range hits {
		in, ok := p.entry.infos[h.ID]
		if !ok || in.turn >= recentFrom {
			continue
		}
		chunks = append(chunks, assemble.Chunk{Role: in.role.String(), Text: compact.Clip(in.text, MaxChunkPromptBytes), Similarity: h.Fused})
		ids = append(ids, in.chunk)
		if len(chunks) == m.cfg.K {
			break
		}
	}
	p.Retrieval = time.Since(rstart)
	astart := time.Now()

	recent, err := p.recent(ctx)
	if err != nil {
		return err
	}
	summary, err := m.summaryText(ctx, p.owner, p.id)
	if err != nil {
		return err
	}
	res, err := assemble.Assemble(assemble.Input{System: split.System, Summary: summary, Chunks: chunks,
		Recent: recent, New: split.New}, req.Budget, req.Count)
	if err != nil {
		return err
	}
	p.Messages, p.MemoryTokens, p.Retrieved = res.Messages, res.MemoryTokens, len(res.Chunks)
	// The chunks that made it into the prompt count as retrieved for forgetting (the stored
	// ones: a backfill chunk is new anyway).
	kept := make(map[string]bool, len(res.Chunks))
	for _, c := range res.Chunks {
		kept[c.Text] = true
	}
	for i, c := range chunks {
		if kept[c.Text] && ids[i] != tempChunk {
			p.picked = append(p.picked, ids[i])
		}
	}
	p.Overhead = overhead + time.Since(astart)
	return nil
}

// MaxChunkPromptBytes bounds a retrieved chunk's text in the prompt: a message of megabytes
// stored long ago is recalled by its beginning, not re-read whole at every request.
const MaxChunkPromptBytes = 4 << 10

// recent returns the last RecentTurns turns, stored or backfilled, as messages.
func (p *Pending) recent(ctx context.Context) ([]chat.Message, error) {
	n := p.m.cfg.RecentTurns
	var turns []turnIn
	if fromStore := n - len(p.backfill); fromStore > 0 && p.base > 0 {
		from := max(0, p.base-fromStore)
		stored, err := p.m.cfg.Store.Turns(ctx, p.owner, p.id, from, p.base-from)
		if err != nil {
			return nil, err
		}
		for _, t := range stored {
			turns = append(turns, turnIn{user: t.User, reply: t.Reply})
		}
	}
	turns = append(turns, p.backfill[max(0, len(p.backfill)-n):]...)
	var msgs []chat.Message
	for _, t := range turns {
		msgs = append(msgs, chat.Message{Role: "user", Content: t.user}, chat.Message{Role: "assistant", Content: t.reply})
	}
	return msgs, nil
}

// Commit stores the backfill and the new turn with reply, each turn with one synced write,
// and queues the work that can wait. When it returns nil the turn is durable.
func (p *Pending) Commit(ctx context.Context, reply string) error {
	if p.done {
		return errors.New("session: turn already committed")
	}
	m := p.m
	vecs, err := m.embed(ctx, []string{reply})
	if err != nil {
		return err
	}
	p.next.reply, p.next.replyVec = reply, vecs[0]
	for _, rid := range p.temp {
		p.entry.remove(rid)
	}
	p.temp = nil
	var turns []compact.Turn
	last := 0
	for i, t := range append(p.backfill, p.next) {
		turn := memory.Turn{User: t.user, Reply: t.reply}
		if i == len(p.backfill) {
			turn.System = p.system
		}
		chunks := []memory.Chunk{
			{Role: memory.RoleUser, Text: t.user, Vector: memory.Quantize(t.userVec)},
			{Role: memory.RoleAssistant, Text: t.reply, Vector: memory.Quantize(t.replyVec)},
		}
		res, err := m.cfg.Store.AppendTurn(ctx, p.owner, p.id, turn, chunks)
		if err != nil {
			if i > 0 {
				// The turns stored so far stay (each is whole); a client that sends its
				// history again gets the rest backfilled.
				p.done = true
				m.submitJobs(p, turns, last)
			}
			return fmt.Errorf("storing turn %d of session %s: %w", p.base+i, p.id, err)
		}
		for j, cr := range res.Chunks {
			if cr.Duplicate {
				continue
			}
			c := chunks[j]
			if _, err := p.entry.add(chunkRID(cr.ID), info{chunk: cr.ID, turn: res.Turn, role: c.Role, text: c.Text}, c.Vector); err != nil {
				m.cfg.Log.Warn("memory: indexing a stored chunk", "session", p.id, "err", err)
			}
		}
		turns = append(turns, compact.Turn{User: t.user, Reply: t.reply})
		last = res.Turn
	}
	p.done = true
	m.submitJobs(p, turns, last)
	return nil
}

// submitJobs queues the work of the turns just stored (the last at index last): the
// retrieval history, the summaries, and forgetting when a multiple of ForgetEvery turns is
// passed.
func (m *Manager) submitJobs(p *Pending, turns []compact.Turn, last int) {
	owner, id, entry, picked := p.owner, p.id, p.entry, p.picked
	first := last - len(turns) + 1
	m.worker.Submit(p.key, func(ctx context.Context) {
		if len(picked) > 0 {
			if err := m.cfg.Store.MarkRetrieved(ctx, owner, id, picked, last); err != nil {
				m.cfg.Log.Warn("memory: recording retrievals", "session", id, "err", err)
			}
		}
		if err := m.summarise(ctx, owner, id, first, turns); err != nil {
			m.cfg.Log.Warn("memory: summary", "session", id, "err", err)
		}
		if first/m.cfg.ForgetEvery != (last+1)/m.cfg.ForgetEvery {
			if err := m.forget(ctx, owner, id, last, entry); err != nil {
				m.cfg.Log.Warn("memory: forgetting", "session", id, "err", err)
			}
		}
	})
}

// Close releases the session. A request that did not commit leaves nothing behind: the
// backfill's chunks leave the retriever, and a session it created is removed again.
func (p *Pending) Close() {
	if p.release == nil {
		return
	}
	if !p.done {
		if p.entry != nil {
			for _, rid := range p.temp {
				p.entry.remove(rid)
			}
		}
		if p.created {
			// Not the request's context: it may be the cancellation that brought us here.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := p.m.cfg.Store.DeleteSession(ctx, p.owner, p.id); err != nil && !errors.Is(err, memory.ErrNotFound) {
				p.m.cfg.Log.Warn("memory: removing the session of a failed first request", "session", p.id, "err", err)
			}
			cancel()
			p.m.cache.drop(p.key)
		}
	}
	p.release()
	p.release = nil
}

// embed embeds texts, checking what the embedder returned.
func (m *Manager) embed(ctx context.Context, texts []string) ([][]float32, error) {
	vecs, err := m.cfg.Embedder.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embedding: %d vectors for %d texts", len(vecs), len(texts))
	}
	for i, v := range vecs {
		if len(v) != m.cfg.Embedder.Dim() {
			return nil, fmt.Errorf("embedding: vector %d has %d dimensions, want %d", i, len(v), m.cfg.Embedder.Dim())
		}
	}
	return vecs, nil
}

// Hit is a chunk retrieval would bring back, with its scores.
type Hit struct {
	Chunk  uint64
	Turn   int
	Role   memory.Role
	Text   string
	Score  float64 // the fused score that orders the hits
	Cosine float64
	BM25   float64
}

// Search returns what retrieval would bring back for query in the session: up to k chunks,
// best first. It waits for the session like a chat request.
func (m *Manager) Search(ctx context.Context, owner memory.Owner, id, query string, k int) ([]Hit, error) {
	if err := memory.ValidSessionID(id); err != nil {
		return nil, err
	}
	key := string(owner) + "/" + id
	release, err := m.keys.Acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := m.worker.Wait(ctx, key); err != nil {
		return nil, err
	}
	e, err := m.entry(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	vecs, err := m.embed(ctx, []string{query})
	if err != nil {
		return nil, err
	}
	res, err := e.r.Search(ctx, query, vecs[0], k)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, 0, len(res))
	for _, r := range res {
		in, ok := e.infos[r.ID]
		if !ok {
			continue
		}
		hits = append(hits, Hit{Chunk: in.chunk, Turn: in.turn, Role: in.role, Text: in.text, Score: r.Fused,
			Cosine: r.Cosine, BM25: r.BM25})
	}
	return hits, nil
}

// Delete removes the session and every key of it, after the requests to it that came first.
func (m *Manager) Delete(ctx context.Context, owner memory.Owner, id string) error {
	if err := memory.ValidSessionID(id); err != nil {
		return err
	}
	key := string(owner) + "/" + id
	release, err := m.keys.Acquire(ctx, key)
	if err != nil {
		return err
	}
	defer release()
	if err := m.worker.Wait(ctx, key); err != nil {
		return err
	}
	m.cache.drop(key)
	return m.cfg.Store.DeleteSession(ctx, owner, id)
}

// Summary returns the session's compact memory: the summary of the summaries, if there is
// one, then the running summary.
func (m *Manager) Summary(ctx context.Context, owner memory.Owner, id string) (string, error) {
	return m.summaryText(ctx, owner, id)
}

func (m *Manager) summaryText(ctx context.Context, owner memory.Owner, id string) (string, error) {
	var parts []string
	for _, level := range []int{memory.SummaryOfSummaries, memory.SummaryRunning} {
		s, err := m.cfg.Store.Summary(ctx, owner, id, level)
		if errors.Is(err, memory.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if s.Text != "" {
			parts = append(parts, s.Text)
		}
	}
	return strings.Join(parts, " "), nil
}

// summarise folds the turns (the first at index first) into the running summary, and into
// the summary of the summaries at every compact.MergeEvery turns. Each level is written once,
// however many turns a backfill brought.
func (m *Manager) summarise(ctx context.Context, owner memory.Owner, id string, first int, turns []compact.Turn) error {
	prev, err := m.cfg.Store.Summary(ctx, owner, id, memory.SummaryRunning)
	if err != nil && !errors.Is(err, memory.ErrNotFound) {
		return err
	}
	text := prev.Text
	var merged *memory.Summary
	for i, t := range turns {
		if text, err = m.cfg.Summarizer.Update(ctx, text, t); err != nil {
			return err
		}
		upTo := first + i + 1
		if upTo%compact.MergeEvery != 0 {
			continue
		}
		if merged == nil {
			old, err := m.cfg.Store.Summary(ctx, owner, id, memory.SummaryOfSummaries)
			if err != nil && !errors.Is(err, memory.ErrNotFound) {
				return err
			}
			merged = &old
		}
		if merged.Text, err = m.cfg.Summarizer.Merge(ctx, nonEmpty(merged.Text, text)); err != nil {
			return err
		}
		merged.Level, merged.UpTo = memory.SummaryOfSummaries, upTo
	}
	if merged != nil {
		if err := m.cfg.Store.PutSummary(ctx, owner, id, *merged); err != nil {
			return err
		}
	}
	return m.cfg.Store.PutSummary(ctx, owner, id, memory.Summary{Level: memory.SummaryRunning, Text: text,
		UpTo: first + len(turns)})
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// forget drops the session's least salient chunks, as of turn now.
func (m *Manager) forget(ctx context.Context, owner memory.Owner, id string, now int, e *entry) error {
	var states []retrieve.ChunkState
	err := m.cfg.Store.Chunks(ctx, owner, id, func(c memory.Chunk) error {
		recently := 0.0
		if c.RetrievedCount > 0 && now-c.LastRetrievedTurn < m.cfg.ForgetEvery {
			recently = 1
		}
		states = append(states, retrieve.ChunkState{ID: chunkRID(c.ID), Age: float64(now - c.Turn),
			RecentlyRetrieved: recently})
		return nil
	})
	if err != nil {
		return err
	}
	drop := m.cfg.Salience.Forget(states, m.cfg.ForgetFraction)
	if len(drop) == 0 {
		return nil
	}
	ids := make([]uint64, len(drop))
	for i, rid := range drop {
		ids[i], _ = strconv.ParseUint(rid, 10, 64)
	}
	if _, err := m.cfg.Store.DeleteChunks(ctx, owner, id, ids); err != nil {
		return err
	}
	for _, rid := range drop {
		e.remove(rid)
	}
	return nil
}

// storedTurns reads a session's turns for reconcile, a page at a time: reconcile reads runs of
// consecutive turns (the session's first and its last as many as the request's history has),
// and one store read per turn would cost a transaction each.
type storedTurns struct {
	ctx   context.Context
	s     memory.Store
	owner memory.Owner
	id    string
	n     int
	from  int // page holds turns [from, from+len(page))
	page  []memory.Turn
}

// turnPage is how many turns one store read brings.
const turnPage = 64

func (t *storedTurns) Len() int { return t.n }

func (t *storedTurns) Turn(i int) (reconcile.Turn, error) {
	if i < t.from || i >= t.from+len(t.page) {
		ts, err := t.s.Turns(t.ctx, t.owner, t.id, i, min(turnPage, t.n-i))
		if err != nil {
			return reconcile.Turn{}, err
		}
		t.from, t.page = i, ts
	}
	if i >= t.from+len(t.page) {
		return reconcile.Turn{}, fmt.Errorf("session %s: turn %d of %d missing", t.id, i, t.n)
	}
	tr := t.page[i-t.from]
	return reconcile.Turn{User: tr.User, Reply: tr.Reply}, nil
}
