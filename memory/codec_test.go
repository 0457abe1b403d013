package memory

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestQuantizeErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + r.IntN(1024)
		x := make([]float32, n)
		scale := math.Pow(10, float64(r.IntN(9)-4)) // magnitudes from 1e-4 to 1e4
		for i := range x {
			x[i] = float32(r.NormFloat64() * scale)
		}
		v := Quantize(x)
		var maxAbs float64
		for _, f := range x {
			maxAbs = max(maxAbs, math.Abs(float64(f)))
		}
		// Every component is within half a step (plus float32 rounding) of the original.
		bound := maxAbs/127/2 + maxAbs*1e-6
		y := v.Dequantize()
		for i := range x {
			if d := math.Abs(float64(x[i]) - float64(y[i])); d > bound {
				t.Fatalf("trial %d: component %d: %g -> %g, error %g > %g", trial, i, x[i], y[i], d, bound)
			}
		}
		for _, q := range v.Data {
			if q == -128 {
				t.Fatal("-128 used: the range must be symmetric")
			}
		}
	}
	if v := Quantize([]float32{0, 0}); v.Scale != 0 || v.Dequantize()[1] != 0 {
		t.Fatalf("zero vector %+v", v)
	}
	inf := float32(math.Inf(1))
	v := Quantize([]float32{1, inf, float32(math.NaN()), -2})
	if y := v.Dequantize(); y[1] != 0 || y[2] != 0 || math.Abs(float64(y[3])+2) > 0.01 {
		t.Fatalf("non-finite components: %v", y)
	}
	if v := Quantize(nil); v.Dim() != 0 {
		t.Fatal("empty vector")
	}
}

type sample struct {
	name string
	enc  []byte
	want any
	dec  func(b []byte) (any, error)
}

func samples() []sample {
	now := time.Unix(1700000000, 123).UTC()
	sess := Session{ID: "s", Owner: OwnerOf("k"), Created: now, Updated: now, TurnCount: 3, ChunkCount: 5}
	turn := Turn{Session: "s", Index: 2, User: "hi", Reply: "hello", System: "sys", Time: now}
	sum := Summary{Level: 1, Text: "sum", UpTo: 100, Time: now}
	ch := Chunk{ID: 7<<16 | 1, Session: "s", Turn: 7, Role: RoleAssistant, Text: "text", Hash: ContentHash("text"),
		Vector: Quantize([]float32{1, -2, 3}), LastRetrievedTurn: 9, RetrievedCount: 2}
	return []sample{
		{"session", encodeSession(sess), sess, func(b []byte) (any, error) { return decodeSession("s", b) }},
		{"turn", encodeTurn(turn), turn, func(b []byte) (any, error) { return decodeTurn("s", 2, b) }},
		{"summary", encodeSummary(sum), sum, func(b []byte) (any, error) { return decodeSummary(1, b) }},
		{"chunk", encodeChunk(ch), ch, func(b []byte) (any, error) { return decodeChunk("s", ch.ID, b) }},
	}
}

// Every value round-trips; every truncation of it and a trailing byte give an error; flipped
// bytes and random bytes give an error or some value, never a panic.
func TestCodecNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	noPanic := func(name string, dec func([]byte) (any, error), c []byte) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s: panic on %x: %v", name, c, p)
			}
		}()
		dec(c)
	}
	for _, sm := range samples() {
		got, err := sm.dec(sm.enc)
		if err != nil || !reflect.DeepEqual(got, sm.want) {
			t.Fatalf("%s round trip: %+v, %v", sm.name, got, err)
		}
		for n := range len(sm.enc) {
			if _, err := sm.dec(sm.enc[:n]); err == nil {
				t.Errorf("%s truncated to %d of %d bytes: no error", sm.name, n, len(sm.enc))
			}
		}
		if _, err := sm.dec(append(append([]byte{}, sm.enc...), 0)); err == nil {
			t.Errorf("%s with a trailing byte: no error", sm.name)
		}
		for range 2000 {
			c := append([]byte{}, sm.enc...)
			c[r.IntN(len(c))] = byte(r.Uint32())
			noPanic(sm.name, sm.dec, c)
		}
		for range 2000 {
			c := make([]byte, r.IntN(64))
			for i := range c {
				c[i] = byte(r.Uint32())
			}
			if len(c) > 0 && r.IntN(2) == 0 {
				c[0] = formatV1
			}
			noPanic(sm.name, sm.dec, c)
		}
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk(Chunk{Role: RoleUser, Text: "x", Vector: Quantize([]float32{1, 2})}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChunk("s", 1, b)
		if err == nil && len(c.Text)+len(c.Vector.Data) > len(b) {
			t.Fatalf("decoded more than the value holds")
		}
	})
}
