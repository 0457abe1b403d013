package memory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Values are encoded by hand with encoding/binary rather than JSON: a chunk is mostly its int8
// vector, which JSON would spell as text several times its size, and a hand format decodes
// without reflection on the retrieval scan over every chunk of a session. Each value starts with
// a format byte so the layout can change later. Integers are varints; strings and byte runs are
// a uvarint length then the bytes.
//
// Decoding trusts nothing: every length is checked against the bytes that remain before anything
// is allocated, so a corrupt value gives an error (naming its key, added by the caller) and never
// a panic or an allocation larger than the value itself.

const formatV1 = 1

// Limits checked on decoding on top of the remaining length, to refuse absurd values early.
const (
	maxTextLen = 64 << 20
	maxDim     = 1 << 16
)

var errShort = errors.New("truncated")

type encoder struct{ b []byte }

func (e *encoder) byte(c byte)      { e.b = append(e.b, c) }
func (e *encoder) uvarint(x uint64) { e.b = binary.AppendUvarint(e.b, x) }
func (e *encoder) varint(x int64)   { e.b = binary.AppendVarint(e.b, x) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.varint(0)
		return
	}
	e.varint(t.UnixNano())
}
func (e *encoder) u32(x uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, x) }

// decoder reads values; the first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(fmt.Errorf("bad uvarint"))
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(fmt.Errorf("bad varint"))
		return 0
	}
	d.b = d.b[n:]
	return x
}

// count reads a non-negative count that must fit in an int and be at most max.
func (d *decoder) count(what string, max int) int {
	x := d.uvarint()
	if d.err == nil && x > uint64(max) {
		d.fail(fmt.Errorf("%s %d exceeds %d", what, x, max))
		return 0
	}
	return int(x)
}

// bytes returns the next n bytes without copying.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail(errShort)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) str(what string) string {
	n := d.count(what+" length", maxTextLen)
	return string(d.bytes(n))
}

func (d *decoder) time() time.Time {
	ns := d.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *decoder) u32() uint32 {
	p := d.bytes(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (d *decoder) version() {
	if v := d.byte(); d.err == nil && v != formatV1 {
		d.fail(fmt.Errorf("unknown format %d", v))
	}
}

// finish reports the sticky error, or trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Errorf("%d trailing bytes", len(d.b)))
	}
	return d.err
}

// sessionMeta is the stored part of a Session (the id is in the key).
func encodeSession(s Session) []byte {
	e := encoder{b: make([]byte, 0, 96)}
	e.byte(formatV1)
	e.str(string(s.Owner))
	e.time(s.Created)
	e.time(s.Updated)
	e.uvarint(uint64(s.TurnCount))
	e.uvarint(uint64(s.ChunkCount))
	return e.b
}

func decodeSession(id string, b []byte) (Session, error) {
	d := decoder{b: b}
	d.version()
	s := Session{ID: id}
	s.Owner = Owner(d.str("owner"))
	s.Created = d.time()
	s.Updated = d.time()
	s.TurnCount = d.count("turn count", math.MaxInt32)
	s.ChunkCount = d.count("chunk count", math.MaxInt32)
	return s, d.finish()
}

func encodeTurn(t Turn) []byte {
	e := encoder{b: make([]byte, 0, 16+len(t.User)+len(t.Reply)+len(t.System))}
	e.byte(formatV1)
	e.time(t.Time)
	e.str(t.User)
	e.str(t.Reply)
	e.str(t.System)
	return e.b
}

func decodeTurn(session string, index int, b []byte) (Turn, error) {
	d := decoder{b: b}
	d.version()
	t := Turn{Session: session, Index: index}
	t.Time = d.time()
	t.User = d.str("user text")
	t.Reply = d.str("reply text")
	t.System = d.str("system text")
	return t, d.finish()
}

func encodeSummary(s Summary) []byte {
	e := encoder{b: make([]byte, 0, 16+len(s.Text))}
	e.byte(formatV1)
	e.uvarint(uint64(s.UpTo))
	e.time(s.Time)
	e.str(s.Text)
	return e.b
}

func decodeSummary(level int, b []byte) (Summary, error) {
	d := decoder{b: b}
	d.version()
	s := Summary{Level: level}
	s.UpTo = d.count("up-to turn", math.MaxInt32)
	s.Time = d.time()
	s.Text = d.str("summary text")
	return s, d.finish()
}

// The chunk's id and session are in its key; its turn is in its id.
func encodeChunk(c Chunk) []byte {
	e := encoder{b: make([]byte, 0, 48+len(c.Text)+len(c.Vector.Data))}
	e.byte(formatV1)
	e.byte(byte(c.Role))
	e.str(c.Text)
	e.b = append(e.b, c.Hash[:]...)
	e.u32(math.Float32bits(c.Vector.Scale))
	e.uvarint(uint64(len(c.Vector.Data)))
	for _, q := range c.Vector.Data {
		e.b = append(e.b, byte(q))
	}
	e.varint(int64(c.LastRetrievedTurn))
	e.uvarint(uint64(c.RetrievedCount))
	return e.b
}

func decodeChunk(session string, id uint64, b []byte) (Chunk, error) {
	d := decoder{b: b}
	d.version()
	c := Chunk{ID: id, Session: session, Turn: ChunkTurn(id)}
	c.Role = Role(d.byte())
	if d.err == nil && c.Role != RoleUser && c.Role != RoleAssistant {
		d.fail(fmt.Errorf("bad role %d", c.Role))
	}
	c.Text = d.str("chunk text")
	copy(c.Hash[:], d.bytes(32))
	c.Vector.Scale = math.Float32frombits(d.u32())
	n := d.count("vector dimension", maxDim)
	if raw := d.bytes(n); raw != nil {
		c.Vector.Data = make([]int8, n)
		for i, q := range raw {
			c.Vector.Data[i] = int8(q)
		}
	}
	c.LastRetrievedTurn = int(d.varint())
	c.RetrievedCount = d.count("retrieved count", math.MaxInt32)
	return c, d.finish()
}
