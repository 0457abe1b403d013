package grammar

import (
	"bytes"
	"context"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/arborlabs/arbor/internal/testmodels"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

var qwenVocab struct {
	once sync.Once
	v    *Vocab
	tok  *tokenizer.Tokenizer
	err  error
}

// testVocab is the Qwen3 tokenizer's vocabulary, built once per test binary.
func testVocab(t testing.TB) (*Vocab, *tokenizer.Tokenizer) {
	t.Helper()
	path := testmodels.TokenizerJSON(t, "qwen3")
	qwenVocab.once.Do(func() {
		tok, err := tokenizer.FromFile(path)
		if err != nil {
			qwenVocab.err = err
			return
		}
		tb := make([][]byte, tok.VocabSize())
		for i := range tb {
			tb[i] = tok.TokenBytes(int32(i))
		}
		qwenVocab.v, qwenVocab.tok = NewVocab(tb, tok.EOS()), tok
	})
	if qwenVocab.err != nil {
		t.Fatal(qwenVocab.err)
	}
	return qwenVocab.v, qwenVocab.tok
}

// walk drives a matcher with random choices among the allowed tokens (half the time preferring
// tokens that close something, so that walks end) for at most maxSteps tokens. It returns the
// bytes generated and whether the value completed.
func walk(t testing.TB, g *Grammar, v *Vocab, rng *rand.Rand, maxSteps int) ([]byte, bool) {
	t.Helper()
	m := g.NewMatcher(v)
	mask := make([]uint64, v.MaskWords())
	var out []byte
	var cands, closers []int32
	for step := 0; step < maxSteps; step++ {
		if m.Complete() {
			return out, true
		}
		if err := m.FillMask(context.Background(), mask); err != nil {
			if errors.Is(err, ErrTooCostly) {
				return out, false // a grammar may be too ambiguous to walk: it says so
			}
			t.Fatalf("after %q: FillMask: %v", short(out), err)
		}
		cands, closers = cands[:0], closers[:0]
		for w, word := range mask {
			for word != 0 {
				bit := word & -word
				id := int32(w*64 + bits.TrailingZeros64(bit))
				word ^= bit
				cands = append(cands, id)
				if closerTokens(v)[id] {
					closers = append(closers, id)
				}
			}
		}
		if len(cands) == 0 {
			t.Fatalf("dead end after %q (%d tokens; CanEnd %v): no token allowed", short(out), step, m.CanEnd())
		}
		pick := cands
		if len(closers) > 0 && rng.IntN(2) == 0 {
			pick = closers
		}
		id := pick[rng.IntN(len(pick))]
		if !m.Allowed(id) {
			t.Fatalf("after %q: token %d (%q) in the mask but not Allowed", out, id, v.Bytes(id))
		}
		// A token outside the mask must not be Allowed.
		other := int32(rng.IntN(v.Size()))
		if mask[other/64]&(1<<(uint(other)%64)) == 0 && m.Allowed(other) {
			t.Fatalf("after %q: token %d (%q) Allowed but not in the mask", out, other, v.Bytes(other))
		}
		if err := m.Accept(id); err != nil {
			t.Fatalf("after %q: Accept(%d %q): %v", out, id, v.Bytes(id), err)
		}
		if v.isEOS[id] {
			return out, true
		}
		out = append(out, v.Bytes(id)...)
	}
	return out, m.Complete()
}

var closerCache sync.Map // *Vocab -> []bool

// closerTokens marks the tokens a walk prefers half the time: EOS, tokens that close a string,
// array or object, and single digits (numbers end sooner).
func closerTokens(v *Vocab) []bool {
	if c, ok := closerCache.Load(v); ok {
		return c.([]bool)
	}
	c := make([]bool, v.Size())
	for id := range c {
		b := v.Bytes(int32(id))
		c[id] = v.isEOS[id] || bytes.ContainsAny(b, `"]}`) || (len(b) == 1 && b[0] >= '0' && b[0] <= '9')
	}
	closerCache.Store(v, c)
	return c
}

func short(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
