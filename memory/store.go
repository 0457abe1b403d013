package memory

import (
	"context"
	"io"
)

// MaxPageSize bounds the limit of ListSessions and Turns.
const MaxPageSize = 1000

// MaxChunksPerTurn is how many chunks one AppendTurn may carry: a chunk id keeps the position
// within its turn in 16 bits.
const MaxChunksPerTurn = 1 << 16

// Store is the memory of sessions. Every method takes a context and the caller's Owner, and
// every session-scoped method answers ErrNotFound for a session that exists under another
// owner, exactly as for one that does not exist: sessions belong to the API key that created
// them. Nothing in the interface assumes the store is in this process (no iterators that hold
// a transaction open across calls, no pointers into store memory, ids assigned by the store), so
// a networked store shared by many replicas can implement it later without the server changing.
type Store interface {
	// CreateOrGetSession returns the owner's session named id, creating it if no session has
	// that id; created says which. A session with that id under another owner gives ErrNotFound.
	CreateOrGetSession(ctx context.Context, owner Owner, id string) (s Session, created bool, err error)
	GetSession(ctx context.Context, owner Owner, id string) (Session, error)
	// ListSessions returns up to limit of the owner's sessions in id order, starting after
	// cursor ("" for the first page); next is the cursor of the following page, "" at the end.
	ListSessions(ctx context.Context, owner Owner, cursor string, limit int) (sessions []Session, next string, err error)

	// AppendTurn stores turn as the session's next turn (its Index and Session are assigned;
	// the session must exist: CreateOrGetSession first)
	// together with its chunks, in one atomic, synced write: when it returns nil the turn is
	// durable, and when it fails nothing of it is stored. Chunks whose text the session already
	// holds (same content hash) are not stored again; the result says which.
	AppendTurn(ctx context.Context, owner Owner, id string, turn Turn, chunks []Chunk) (AppendResult, error)
	// Turns returns up to limit turns in index order, starting at index from.
	Turns(ctx context.Context, owner Owner, id string, from, limit int) ([]Turn, error)

	// PutSummary replaces the session's summary at s.Level.
	PutSummary(ctx context.Context, owner Owner, id string, s Summary) error
	// Summary returns the session's summary at level, ErrNotFound if none was put.
	Summary(ctx context.Context, owner Owner, id string, level int) (Summary, error)

	// Chunks calls fn for every chunk of the session, in id order (which is turn order), from
	// one consistent snapshot. fn may keep the chunk. An error from fn stops the scan and is
	// returned.
	Chunks(ctx context.Context, owner Owner, id string, fn func(Chunk) error) error
	// MarkRetrieved records that the chunks were retrieved at turn: LastRetrievedTurn = turn and
	// RetrievedCount + 1. Ids the session does not hold (forgotten since) are skipped.
	MarkRetrieved(ctx context.Context, owner Owner, id string, chunkIDs []uint64, turn int) error
	// DeleteChunks forgets the chunks and returns how many were held. A forgotten text may be
	// stored again by a later turn.
	DeleteChunks(ctx context.Context, owner Owner, id string, chunkIDs []uint64) (deleted int, err error)
	// DeleteSession removes every key of the session.
	DeleteSession(ctx context.Context, owner Owner, id string) error

	// Stats counts the whole store, all owners together (for /metrics).
	Stats(ctx context.Context) (Stats, error)
	// Export writes a backup of the whole store to w; Import loads one into an empty store.
	Export(ctx context.Context, w io.Writer) error
	Import(ctx context.Context, r io.Reader) error
	Close() error
}

// AppendResult says what AppendTurn stored.
type AppendResult struct {
	Turn   int           // the index the turn was given
	Chunks []ChunkResult // one per chunk passed, in the same order
}

// ChunkResult is the fate of one chunk passed to AppendTurn.
type ChunkResult struct {
	ID        uint64 // the chunk's id: the new one, or the held chunk's if Duplicate
	Duplicate bool   // the session already held this text (or an earlier chunk of this call did)
}

// Stats describes the store's size.
type Stats struct {
	Sessions  int
	Chunks    int
	DiskBytes int64 // files under the store's directory
}
