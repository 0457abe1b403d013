package memory

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Key layout. Every key of a session starts with "s/<id>/", so one prefix scan reads (or
// deletes) a session whole; the id alphabet has no '/', so no session's prefix is a prefix of
// another's. Integers in keys are big-endian so byte order is numeric order: turns and chunks
// come out of a scan in turn order.
//
//	s/<id>/m                  session meta (owner, times, counts)
//	s/<id>/t/<u64 turn>       a turn
//	s/<id>/c/<u64 chunk id>   a chunk (id = turn<<16 | position)
//	s/<id>/h/<32-byte hash>   -> u64 chunk id: the dedupe index
//	s/<id>/y/<u8 level>       the summary at that level
//	o/<owner>/<id>            (empty) the owner's session index, for listing
const (
	tagMeta    = 'm'
	tagTurn    = 't'
	tagChunk   = 'c'
	tagHash    = 'h'
	tagSummary = 'y'
)

func sessionPrefix(id string) []byte { return []byte("s/" + id + "/") }

func metaKey(id string) []byte { return append(sessionPrefix(id), tagMeta) }

func sectionPrefix(id string, tag byte) []byte { return append(sessionPrefix(id), tag, '/') }

func u64Key(id string, tag byte, x uint64) []byte {
	return binary.BigEndian.AppendUint64(sectionPrefix(id, tag), x)
}

func turnKey(id string, index int) []byte { return u64Key(id, tagTurn, uint64(index)) }

func chunkKey(id string, cid uint64) []byte { return u64Key(id, tagChunk, cid) }

func hashKey(id string, h [32]byte) []byte { return append(sectionPrefix(id, tagHash), h[:]...) }

func summaryKey(id string, level int) []byte {
	return append(sectionPrefix(id, tagSummary), byte(level))
}

func ownerPrefix(o Owner) []byte { return []byte("o/" + string(o) + "/") }

func ownerKey(o Owner, id string) []byte { return append(ownerPrefix(o), id...) }

// corrupt wraps a decoding failure with the key it was read from.
func corrupt(key []byte, err error) error {
	return fmt.Errorf("%w at key %s: %v", ErrCorrupt, strconv.Quote(string(key)), err)
}

// Options configures OpenBadger. The zero value is the default.
type Options struct {
	// GCInterval is how often Badger's value-log GC runs: default 10 minutes, negative disables.
	GCInterval time.Duration
	// GCDiscardRatio is the fraction of a value-log file that must be garbage before GC rewrites
	// it; default 0.5.
	GCDiscardRatio float64
	// Logger receives Badger's warnings and errors (its info and debug lines at debug level);
	// default slog.Default().
	Logger *slog.Logger
}

// BadgerStore is the Store on an embedded Badger database in one directory.
type BadgerStore struct {
	dir string
	db  *badger.DB
	log *slog.Logger

	// mu is held shared by every operation and exclusively by Close and Import, so that the
	// database is never closed (or loaded) under a running transaction.
	mu     sync.RWMutex
	closed bool

	// Writes to one session are serialised by a striped lock. Badger's transactions would
	// detect the conflicting read-modify-write of a session's meta, but retrying is wasted
	// work, and a DeleteSession that spans several transactions must not interleave with a
	// re-creation of the same id. The directory lock means this process is the only writer,
	// so an in-process lock is enough here.
	locks [64]sync.Mutex

	// Counters for Stats, counted at open and kept up to date after each commit, so /metrics
	// costs no scan. A global counter key would make every append conflict with every other.
	sessions atomic.Int64
	chunks   atomic.Int64

	stopGC   chan struct{}
	gcDone   chan struct{}
	stopOnce sync.Once
	ratio    float64
}

var _ Store = (*BadgerStore)(nil)

// badgerLogger routes Badger's log lines to slog: warnings and errors as such, the chatty info
// and debug lines (one per compaction, replay, ...) at debug level, off by default.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) line(f string, a []any) string {
	return "badger: " + strings.TrimSpace(fmt.Sprintf(f, a...))
}
func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(b.line(f, a)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(b.line(f, a)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(b.line(f, a)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug(b.line(f, a)) }

// inUseError is OpenBadger's error when the directory is locked; errors.Is(err, ErrInUse).
type inUseError struct {
	dir   string
	cause error
}

func (e *inUseError) Error() string {
	return fmt.Sprintf("memory store %s is in use by another process (%v)", e.dir, e.cause)
}
func (e *inUseError) Unwrap() []error { return []error{ErrInUse, e.cause} }

// OpenBadger opens (creating if needed) the store in dir. Every write is synced before it
// returns: the writes are few and small (one per turn, a few per request for salience) and an
// acknowledged turn must survive a crash.
func OpenBadger(dir string, opt Options) (*BadgerStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty memory store directory", ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("memory store %s: %w", dir, err)
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{logger}).
		// Smaller value-log files than Badger's 1 GiB default: GC rewrites a whole file, and
		// each file is preallocated at twice this size.
		WithValueLogFileSize(256 << 20)
	db, err := badger.Open(bo)
	if err != nil {
		// Badger locks the directory (flock on unix, an exclusive lock file on Windows); a
		// second open, from another process or this one, fails with this phrase on both.
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, &inUseError{dir: dir, cause: err}
		}
		return nil, fmt.Errorf("memory store %s: %w", dir, err)
	}
	s := &BadgerStore{dir: dir, db: db, log: logger, ratio: opt.GCDiscardRatio}
	if s.ratio <= 0 || s.ratio >= 1 {
		s.ratio = 0.5
	}
	if err := s.recount(); err != nil {
		db.Close()
		return nil, fmt.Errorf("memory store %s: %w", dir, err)
	}
	interval := opt.GCInterval
	if interval == 0 {
		interval = 10 * time.Minute
	}
	if interval > 0 {
		s.stopGC = make(chan struct{})
		s.gcDone = make(chan struct{})
		go s.gcLoop(interval)
	}
	return s, nil
}

// Dir is the store's directory.
func (s *BadgerStore) Dir() string { return s.dir }

func (s *BadgerStore) gcLoop(interval time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
			if err := s.RunGC(); err != nil {
				s.log.Warn("memory: value-log GC", "err", err)
			}
		}
	}
}

// RunGC runs Badger's value-log GC until it finds no file worth rewriting (the timer calls it;
// it is exported for operations and tests).
func (s *BadgerStore) RunGC() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	// Each call rewrites at most one file; a bounded loop keeps one tick from running long.
	for range 16 {
		err := s.db.RunValueLogGC(s.ratio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Close stops the GC timer and closes the database. Closing twice is harmless.
func (s *BadgerStore) Close() error {
	// The GC goroutine stops first: it may be waiting for mu, which we are about to hold.
	s.stopOnce.Do(func() {
		if s.stopGC != nil {
			close(s.stopGC)
			<-s.gcDone
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// begin admits an operation: the context is live and the store open. The caller runs done.
func (s *BadgerStore) begin(ctx context.Context) (done func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.mu.RUnlock, nil
}

func (s *BadgerStore) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// viewSession runs fn in a read transaction on the owner's session id (ErrNotFound if it does
// not exist or belongs to another owner), the store admitted for the call.
func (s *BadgerStore) viewSession(ctx context.Context, owner Owner, id string, fn func(txn *badger.Txn, sess Session) error) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	return s.db.View(func(txn *badger.Txn) error {
		sess, err := readMeta(txn, owner, id)
		if err != nil {
			return err
		}
		return fn(txn, sess)
	})
}

// updateSession is viewSession in a write transaction, the session's writes serialised: fn may
// change the meta it is given and write it back.
func (s *BadgerStore) updateSession(ctx context.Context, owner Owner, id string, fn func(txn *badger.Txn, sess *Session) error) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	unlock := s.lock(id)
	defer unlock()
	return s.db.Update(func(txn *badger.Txn) error {
		sess, err := readMeta(txn, owner, id)
		if err != nil {
			return err
		}
		return fn(txn, &sess)
	})
}

func checkArgs(owner Owner, id string) error {
	if err := validOwner(owner); err != nil {
		return err
	}
	return ValidSessionID(id)
}

// readMeta returns the session if it exists and belongs to owner, else ErrNotFound.
func readMeta(txn *badger.Txn, owner Owner, id string) (Session, error) {
	key := metaKey(id)
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, err
	}
	var sess Session
	err = item.Value(func(v []byte) error {
		var derr error
		sess, derr = decodeSession(id, v)
		if derr != nil {
			return corrupt(key, derr)
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	if sess.Owner != owner {
		return Session{}, ErrNotFound
	}
	return sess, nil
}

// CreateOrGetSession implements Store.
func (s *BadgerStore) CreateOrGetSession(ctx context.Context, owner Owner, id string) (Session, bool, error) {
	if err := checkArgs(owner, id); err != nil {
		return Session{}, false, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return Session{}, false, err
	}
	defer done()
	unlock := s.lock(id)
	defer unlock()

	var sess Session
	err = s.db.View(func(txn *badger.Txn) error {
		var err error
		sess, err = readMeta(txn, owner, id)
		return err
	})
	if err == nil {
		return sess, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Session{}, false, err
	}
	// Not found for this owner: either free, or someone else's (which must stay invisible).
	exists, err := s.exists(metaKey(id))
	if err != nil {
		return Session{}, false, err
	}
	if exists {
		return Session{}, false, ErrNotFound
	}
	// Keys left by a DeleteSession that failed midway (its meta goes first) must not leak
	// into the new session.
	if err := s.deletePrefix(ctx, sessionPrefix(id)); err != nil {
		return Session{}, false, err
	}
	now := time.Now().UTC()
	sess = Session{ID: id, Owner: owner, Created: now, Updated: now}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(metaKey(id), encodeSession(sess)); err != nil {
			return err
		}
		return txn.Set(ownerKey(owner, id), nil)
	})
	if err != nil {
		return Session{}, false, err
	}
	s.sessions.Add(1)
	return sess, true, nil
}

func (s *BadgerStore) exists(key []byte) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetSession implements Store.
func (s *BadgerStore) GetSession(ctx context.Context, owner Owner, id string) (Session, error) {
	if err := checkArgs(owner, id); err != nil {
		return Session{}, err
	}
	var out Session
	err := s.viewSession(ctx, owner, id, func(_ *badger.Txn, sess Session) error {
		out = sess
		return nil
	})
	return out, err
}

func checkLimit(limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("%w: page limit %d", ErrInvalid, limit)
	}
	return min(limit, MaxPageSize), nil
}

// ListSessions implements Store.
func (s *BadgerStore) ListSessions(ctx context.Context, owner Owner, cursor string, limit int) ([]Session, string, error) {
	if err := validOwner(owner); err != nil {
		return nil, "", err
	}
	if cursor != "" {
		if err := ValidSessionID(cursor); err != nil {
			return nil, "", fmt.Errorf("cursor: %w", err)
		}
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, "", err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return nil, "", err
	}
	defer done()
	var out []Session
	next := ""
	err = s.db.View(func(txn *badger.Txn) error {
		prefix := ownerPrefix(owner)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		start := prefix
		if cursor != "" {
			start = append(ownerKey(owner, cursor), 0) // the first key after the cursor's
		}
		for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
			id := string(it.Item().Key()[len(prefix):])
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			sess, err := readMeta(txn, owner, id)
			if errors.Is(err, ErrNotFound) {
				continue // an index entry without its session; not the caller's concern
			}
			if err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func validateChunk(c *Chunk) error {
	if c.Role != RoleUser && c.Role != RoleAssistant {
		return fmt.Errorf("%w: chunk role %v", ErrInvalid, c.Role)
	}
	if len(c.Text) > maxTextLen {
		return fmt.Errorf("%w: chunk text of %d bytes, at most %d", ErrInvalid, len(c.Text), maxTextLen)
	}
	if len(c.Vector.Data) > maxDim {
		return fmt.Errorf("%w: vector of %d dimensions, at most %d", ErrInvalid, len(c.Vector.Data), maxDim)
	}
	return nil
}

// AppendTurn implements Store. The turn, its new chunks, their dedupe entries and the updated
// session meta are one Badger transaction, committed with a synced write.
func (s *BadgerStore) AppendTurn(ctx context.Context, owner Owner, id string, turn Turn, chunks []Chunk) (AppendResult, error) {
	if err := checkArgs(owner, id); err != nil {
		return AppendResult{}, err
	}
	if len(chunks) > MaxChunksPerTurn {
		return AppendResult{}, fmt.Errorf("%w: %d chunks in one turn, at most %d", ErrInvalid, len(chunks), MaxChunksPerTurn)
	}
	for _, t := range []string{turn.User, turn.Reply, turn.System} {
		if len(t) > maxTextLen {
			return AppendResult{}, fmt.Errorf("%w: turn text of %d bytes, at most %d", ErrInvalid, len(t), maxTextLen)
		}
	}
	for i := range chunks {
		if err := validateChunk(&chunks[i]); err != nil {
			return AppendResult{}, err
		}
	}
	var res AppendResult
	stored := 0
	err := s.updateSession(ctx, owner, id, func(txn *badger.Txn, sess *Session) error {
		now := time.Now().UTC()
		turn.Session, turn.Index = id, sess.TurnCount
		if turn.Time.IsZero() {
			turn.Time = now
		}
		if err := txn.Set(turnKey(id, turn.Index), encodeTurn(turn)); err != nil {
			return err
		}
		res = AppendResult{Turn: turn.Index, Chunks: make([]ChunkResult, len(chunks))}
		seen := make(map[[32]byte]uint64, len(chunks))
		for i, c := range chunks {
			c.Hash = ContentHash(c.Text)
			if prev, ok := seen[c.Hash]; ok {
				res.Chunks[i] = ChunkResult{ID: prev, Duplicate: true}
				continue
			}
			hk := hashKey(id, c.Hash)
			prev, err := readHash(txn, hk)
			if err != nil {
				return err
			}
			if prev != nil {
				res.Chunks[i] = ChunkResult{ID: *prev, Duplicate: true}
				seen[c.Hash] = *prev
				continue
			}
			c.ID = uint64(turn.Index)<<16 | uint64(i)
			c.Session, c.Turn = id, turn.Index
			c.LastRetrievedTurn, c.RetrievedCount = 0, 0
			if err := txn.Set(chunkKey(id, c.ID), encodeChunk(c)); err != nil {
				return err
			}
			if err := txn.Set(hk, binary.BigEndian.AppendUint64(nil, c.ID)); err != nil {
				return err
			}
			seen[c.Hash] = c.ID
			res.Chunks[i] = ChunkResult{ID: c.ID}
			stored++
		}
		sess.TurnCount++
		sess.ChunkCount += stored
		sess.Updated = now
		return txn.Set(metaKey(id), encodeSession(*sess))
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		return AppendResult{}, fmt.Errorf("%w: turn too large for one write: %v", ErrInvalid, err)
	}
	if err != nil {
		return AppendResult{}, err
	}
	s.chunks.Add(int64(stored))
	return res, nil
}

// readHash returns the chunk id a dedupe key points to, nil if absent.
func readHash(txn *badger.Txn, key []byte) (*uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var id uint64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return corrupt(key, fmt.Errorf("chunk id of %d bytes, want 8", len(v)))
		}
		id = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// Turns implements Store.
func (s *BadgerStore) Turns(ctx context.Context, owner Owner, id string, from, limit int) ([]Turn, error) {
	if err := checkArgs(owner, id); err != nil {
		return nil, err
	}
	if from < 0 {
		return nil, fmt.Errorf("%w: turn index %d", ErrInvalid, from)
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	var out []Turn
	err = s.viewSession(ctx, owner, id, func(txn *badger.Txn, _ Session) error {
		prefix := sectionPrefix(id, tagTurn)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: min(limit, 100)})
		defer it.Close()
		for it.Seek(turnKey(id, from)); it.ValidForPrefix(prefix) && len(out) < limit; it.Next() {
			item := it.Item()
			key := item.Key()
			if len(key) != len(prefix)+8 {
				return corrupt(key, errors.New("turn key length"))
			}
			index := binary.BigEndian.Uint64(key[len(prefix):])
			if index > math.MaxInt32 {
				return corrupt(key, fmt.Errorf("turn index %d", index))
			}
			err := item.Value(func(v []byte) error {
				t, err := decodeTurn(id, int(index), v)
				if err != nil {
					return corrupt(key, err)
				}
				out = append(out, t)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func checkLevel(level int) error {
	if level < 0 || level > 255 {
		return fmt.Errorf("%w: summary level %d", ErrInvalid, level)
	}
	return nil
}

// PutSummary implements Store.
func (s *BadgerStore) PutSummary(ctx context.Context, owner Owner, id string, sum Summary) error {
	if err := checkArgs(owner, id); err != nil {
		return err
	}
	if err := checkLevel(sum.Level); err != nil {
		return err
	}
	if sum.UpTo < 0 || len(sum.Text) > maxTextLen {
		return fmt.Errorf("%w: summary up to turn %d, %d bytes", ErrInvalid, sum.UpTo, len(sum.Text))
	}
	if sum.Time.IsZero() {
		sum.Time = time.Now().UTC()
	}
	return s.updateSession(ctx, owner, id, func(txn *badger.Txn, _ *Session) error {
		return txn.Set(summaryKey(id, sum.Level), encodeSummary(sum))
	})
}

// Summary implements Store.
func (s *BadgerStore) Summary(ctx context.Context, owner Owner, id string, level int) (Summary, error) {
	if err := checkArgs(owner, id); err != nil {
		return Summary{}, err
	}
	if err := checkLevel(level); err != nil {
		return Summary{}, err
	}
	var sum Summary
	err := s.viewSession(ctx, owner, id, func(txn *badger.Txn, _ Session) error {
		key := summaryKey(id, level)
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			var derr error
			if sum, derr = decodeSummary(level, v); derr != nil {
				return corrupt(key, derr)
			}
			return nil
		})
	})
	return sum, err
}

// Chunks implements Store: one prefix scan of the session's chunk keys in one read
// transaction, so fn sees a consistent snapshot even while turns are appended.
func (s *BadgerStore) Chunks(ctx context.Context, owner Owner, id string, fn func(Chunk) error) error {
	if err := checkArgs(owner, id); err != nil {
		return err
	}
	return s.viewSession(ctx, owner, id, func(txn *badger.Txn, _ Session) error {
		prefix := sectionPrefix(id, tagChunk)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		n := 0
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			c, err := decodeChunkItem(id, prefix, it.Item())
			if err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	})
}

func decodeChunkItem(id string, prefix []byte, item *badger.Item) (Chunk, error) {
	key := item.Key()
	if len(key) != len(prefix)+8 {
		return Chunk{}, corrupt(key, errors.New("chunk key length"))
	}
	cid := binary.BigEndian.Uint64(key[len(prefix):])
	var c Chunk
	err := item.Value(func(v []byte) error {
		var derr error
		if c, derr = decodeChunk(id, cid, v); derr != nil {
			return corrupt(key, derr)
		}
		return nil
	})
	return c, err
}

// getChunk reads one chunk, nil if the session does not hold it.
func getChunk(txn *badger.Txn, id string, cid uint64) (*Chunk, error) {
	item, err := txn.Get(chunkKey(id, cid))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := decodeChunkItem(id, sectionPrefix(id, tagChunk), item)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// MarkRetrieved implements Store.
func (s *BadgerStore) MarkRetrieved(ctx context.Context, owner Owner, id string, chunkIDs []uint64, turn int) error {
	if err := checkArgs(owner, id); err != nil {
		return err
	}
	if turn < 0 {
		return fmt.Errorf("%w: turn index %d", ErrInvalid, turn)
	}
	return s.updateSession(ctx, owner, id, func(txn *badger.Txn, _ *Session) error {
		for _, cid := range dedupeIDs(chunkIDs) {
			c, err := getChunk(txn, id, cid)
			if err != nil {
				return err
			}
			if c == nil {
				continue
			}
			c.LastRetrievedTurn = turn
			c.RetrievedCount++
			if err := txn.Set(chunkKey(id, cid), encodeChunk(*c)); err != nil {
				return err
			}
		}
		return nil
	})
}

func dedupeIDs(ids []uint64) []uint64 {
	seen := make(map[uint64]bool, len(ids))
	out := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// deleteBatch bounds the keys one transaction deletes, well inside Badger's transaction size.
const deleteBatch = 2000

// DeleteChunks implements Store. Ids are deleted in batches of one transaction each, every
// batch updating the session's chunk count with its deletions, so the count stays exact even if
// a later batch fails.
func (s *BadgerStore) DeleteChunks(ctx context.Context, owner Owner, id string, chunkIDs []uint64) (int, error) {
	if err := checkArgs(owner, id); err != nil {
		return 0, err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	unlock := s.lock(id)
	defer unlock()
	ids := dedupeIDs(chunkIDs)
	total := 0
	// At least one transaction, so an empty list still checks the session and its owner.
	for first := true; first || len(ids) > 0; first = false {
		batch := ids[:min(len(ids), deleteBatch/2)] // two keys per chunk
		ids = ids[len(batch):]
		n := 0
		err := s.db.Update(func(txn *badger.Txn) error {
			sess, err := readMeta(txn, owner, id)
			if err != nil {
				return err
			}
			for _, cid := range batch {
				c, err := getChunk(txn, id, cid)
				if err != nil {
					return err
				}
				if c == nil {
					continue
				}
				if err := txn.Delete(chunkKey(id, cid)); err != nil {
					return err
				}
				// The dedupe entry goes too, so forgotten text can be stored again.
				hk := hashKey(id, c.Hash)
				if prev, err := readHash(txn, hk); err != nil {
					return err
				} else if prev != nil && *prev == cid {
					if err := txn.Delete(hk); err != nil {
						return err
					}
				}
				n++
			}
			if n == 0 {
				return nil
			}
			sess.ChunkCount = max(0, sess.ChunkCount-n)
			return txn.Set(metaKey(id), encodeSession(sess))
		})
		if err != nil {
			return total, err
		}
		total += n
		s.chunks.Add(-int64(n))
		if err := ctx.Err(); err != nil && len(ids) > 0 {
			return total, err
		}
	}
	return total, nil
}

// DeleteSession implements Store. The meta and the owner index go first, in one synced
// transaction: from then on the session does not exist for anyone. The rest of its keys are
// then deleted by prefix in batches (a session of 200k chunks does not fit one transaction); if
// that is interrupted, the leftovers are invisible and CreateOrGetSession sweeps them before
// the id is used again.
func (s *BadgerStore) DeleteSession(ctx context.Context, owner Owner, id string) error {
	if err := checkArgs(owner, id); err != nil {
		return err
	}
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	unlock := s.lock(id)
	defer unlock()
	var sess Session
	err = s.db.Update(func(txn *badger.Txn) error {
		var err error
		if sess, err = readMeta(txn, owner, id); err != nil {
			return err
		}
		if err := txn.Delete(metaKey(id)); err != nil {
			return err
		}
		return txn.Delete(ownerKey(owner, id))
	})
	if err != nil {
		return err
	}
	s.sessions.Add(-1)
	s.chunks.Add(-int64(sess.ChunkCount))
	// Not cancelled by ctx: the session is already gone, so finish the job.
	return s.deletePrefix(context.WithoutCancel(ctx), sessionPrefix(id))
}

// deletePrefix deletes every key with prefix, in batches.
func (s *BadgerStore) deletePrefix(ctx context.Context, prefix []byte) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys [][]byte
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Seek(prefix); it.ValidForPrefix(prefix) && len(keys) < deleteBatch; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		err = s.db.Update(func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}

// Stats implements Store.
func (s *BadgerStore) Stats(ctx context.Context) (Stats, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer done()
	st := Stats{Sessions: int(s.sessions.Load()), Chunks: int(s.chunks.Load())}
	st.DiskBytes, err = diskUsage(s.dir)
	return st, err
}

// diskUsage sums the space the files under dir take on disk. Badger preallocates its value log
// and write-ahead files at twice their nominal size as sparse files, so apparent sizes would
// report gigabytes for an empty store; allocatedBytes asks the filesystem where it can.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a file removed by compaction while we walk
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += allocatedBytes(info)
		return nil
	})
	return total, err
}

// recount sets the Stats counters from the owner index and the session metas.
func (s *BadgerStore) recount() error {
	var sessions, chunks int64
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte("o/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			key := it.Item().Key()
			rest := key[len(prefix):]
			slash := bytes.IndexByte(rest, '/')
			if slash < 0 {
				return corrupt(key, errors.New("owner index key without a session id"))
			}
			owner, id := Owner(rest[:slash]), string(rest[slash+1:])
			sess, err := readMeta(txn, owner, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			sessions++
			chunks += int64(sess.ChunkCount)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.sessions.Store(sessions)
	s.chunks.Store(chunks)
	return nil
}

// ctxWriter and ctxReader stop a backup stream when the context ends: Badger's Backup and Load
// take no context, but they fail as soon as their writer or reader does.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Export implements Store with Badger's backup stream (DB.Backup): a full dump of the latest
// version of every key, in Badger's own framing, that Import (DB.Load) reads back.
func (s *BadgerStore) Export(ctx context.Context, w io.Writer) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := s.db.Backup(ctxWriter{ctx, w}, 0); err != nil {
		return fmt.Errorf("memory: export: %w", err)
	}
	return nil
}

// Import implements Store: it loads a stream written by Export into this store, which must be
// empty (merging two stores' sessions, counts and owner indexes is not something a backup
// stream can do correctly). It holds the store exclusively while loading, as DB.Load requires.
// An import that fails partway leaves what it loaded; start again from a fresh directory.
func (s *BadgerStore) Import(ctx context.Context, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	empty := true
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil {
		return err
	}
	if !empty {
		return fmt.Errorf("%w: import needs an empty memory store, %s holds data", ErrInvalid, s.dir)
	}
	if err := s.db.Load(ctxReader{ctx, r}, 256); err != nil {
		return fmt.Errorf("memory: import: %w", err)
	}
	// Load writes without syncing; make the imported data durable before saying it is there.
	if err := s.db.Sync(); err != nil {
		return err
	}
	return s.recount()
}
