package memory

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Errors are sentinels to test with errors.Is: the server maps ErrInvalidSessionID and
// ErrInvalid to 400 and ErrNotFound to 404, whatever detail the wrapping message adds.
var (
	// ErrNotFound: no such session (or chunk, or summary) for this owner. A session that exists
	// under another owner gives this too, so a caller cannot learn that someone else's id is taken.
	ErrNotFound = errors.New("memory: not found")
	// ErrInvalidSessionID: the id is not 1 to 128 characters of [A-Za-z0-9._:-].
	ErrInvalidSessionID = errors.New("memory: invalid session id")
	// ErrInvalid: another argument is out of range (an owner that is not a key hash, a chunk
	// role, a page size, a summary level).
	ErrInvalid = errors.New("memory: invalid argument")
	// ErrCorrupt: a stored value does not decode. The wrapping message names the key.
	ErrCorrupt = errors.New("memory: corrupt value")
	// ErrInUse: the store's directory is locked by another process (or another open store).
	ErrInUse = errors.New("memory: store in use")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("memory: store closed")
)

// MaxSessionIDLen is the longest session id accepted.
const MaxSessionIDLen = 128

// ValidSessionID reports whether id may name a session: 1 to 128 characters of
// [A-Za-z0-9._:-]. The error wraps ErrInvalidSessionID. The alphabet has no '/', which is what
// keeps the key layout ("s/<id>/...") unambiguous.
func ValidSessionID(id string) error {
	if len(id) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidSessionID)
	}
	if len(id) > MaxSessionIDLen {
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidSessionID, len(id), MaxSessionIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return fmt.Errorf("%w: byte %q at %d is not one of [A-Za-z0-9._:-]", ErrInvalidSessionID, c, i)
		}
	}
	return nil
}

// Owner identifies who a session belongs to: the lowercase hex SHA-256 of the API key that
// created it. The key itself is never stored; only OwnerOf's digest is.
type Owner string

// OwnerOf returns the owner identity of an API key. A server without keys can use OwnerOf("")
// for everyone.
func OwnerOf(apiKey string) Owner {
	sum := sha256.Sum256([]byte(apiKey))
	return Owner(hex.EncodeToString(sum[:]))
}

// validOwner rejects anything that is not a digest from OwnerOf, so that a raw key passed by
// mistake is refused instead of being written to disk.
func validOwner(o Owner) error {
	if len(o) != 2*sha256.Size {
		return fmt.Errorf("%w: owner must be a 64-character SHA-256 hex digest (use OwnerOf)", ErrInvalid)
	}
	for i := 0; i < len(o); i++ {
		c := o[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: owner must be a lowercase SHA-256 hex digest (use OwnerOf)", ErrInvalid)
		}
	}
	return nil
}

// Session is a conversation's record. The counts are kept by the store as turns and chunks are
// written and deleted.
type Session struct {
	ID         string
	Owner      Owner
	Created    time.Time
	Updated    time.Time
	TurnCount  int // turns appended; the next turn gets this index
	ChunkCount int // chunks held now (after dedupe and forgetting)
}

// Turn is one exchange: the user's message and the model's complete reply, with the request's
// system message if it had one.
type Turn struct {
	Session string
	Index   int // 0-based, assigned by the store on AppendTurn
	User    string
	Reply   string
	System  string // optional
	Time    time.Time
}

// Summary levels.
const (
	SummaryRunning     = 0 // S(t) = summarise(S(t-1), turn t)
	SummaryOfSummaries = 1 // a summary of the running summaries, every 100 turns
)

// Summary is a compact memory of a session. One is kept per level; PutSummary replaces it.
type Summary struct {
	Level int
	Text  string
	UpTo  int // the summary covers the turns with index < UpTo
	Time  time.Time
}

// Role says whose words a chunk holds.
type Role uint8

const (
	RoleUser      Role = 1
	RoleAssistant Role = 2
)

func (r Role) String() string {
	switch r {
	case RoleUser:
		return "user"
	case RoleAssistant:
		return "assistant"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// ContentHash is the hash that identifies identical chunks within a session.
func ContentHash(text string) [32]byte { return sha256.Sum256([]byte(text)) }

// Chunk is a unit of vector memory: one user message or one reply (or a piece of one), with its
// embedding and its retrieval history.
type Chunk struct {
	ID      uint64 // assigned by the store: Turn<<16 | position within the turn's chunks
	Session string
	Turn    int
	Role    Role
	Text    string
	Hash    [32]byte // ContentHash(Text), computed by the store
	Vector  Vector

	// Salience inputs: the forgetting rule favours chunks retrieved recently.
	LastRetrievedTurn int // turn index of the last retrieval; meaningful when RetrievedCount > 0
	RetrievedCount    int
}

// ChunkTurn returns the turn index encoded in a chunk id.
func ChunkTurn(id uint64) int { return int(id >> 16) }
