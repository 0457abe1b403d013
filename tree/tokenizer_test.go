package tree

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/arborlabs/arbor/internal/testmodels"
	"github.com/arborlabs/arbor/runtime/engine"
	"github.com/arborlabs/arbor/runtime/grammar"
	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// With Qwen3's tokenizer, as the engine runs it: the model's text in real BPE tokens (merges
// such as `":[` and `]},` straddle the lists' brackets), every token sampled or forced passing
// the grammar of Schema, the calls stopping either at the parameters' '}' or after the colon.
func TestRunQwenTokenizer(t *testing.T) {
	tok, err := tokenizer.FromFile(testmodels.TokenizerJSON(t, "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	tb := make([][]byte, tok.VocabSize())
	for i := range tb {
		tb[i] = tok.TokenBytes(int32(i))
	}
	vocab := grammar.NewVocab(tb, tok.EOS())
	const depth = 3
	doc, st := genDoc(depth, testTools, 3)
	schema, err := Schema(SchemaOptions{MaxDepth: depth, Tools: specs(testTools)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := grammar.CompileSchema(schema)
	if err != nil {
		t.Fatal(err)
	}
	// The model's pieces end where each call's forced text begins: after the parameters for
	// even calls, after `"tool_result":` for odd ones.
	var cuts []int
	var lists []engine.Span
	for _, e := range feedAll(t, doc, len(doc)) {
		switch e.Kind {
		case ToolCall:
			cut := e.End
			if len(cuts)%2 == 1 {
				cut += len(`,"tool_result":`)
			}
			cuts = append(cuts, cut)
		case SubtasksClosed:
			lists = append(lists, engine.Span{Begin: e.Begin, End: e.End})
		}
	}
	resultEnd := func(from int) int { // end of the result value forced from offset from
		key := `,"tool_result":`
		for _, tt := range testTools {
			for k := range len(key) + 1 {
				if strings.HasPrefix(doc[from:], key[k:]+tt.result) {
					return from + len(key[k:]+tt.result)
				}
			}
		}
		t.Fatalf("no result at %d", from)
		return 0
	}
	prefixes := map[string]bool{} // the result prefixes the runs wrote
	for _, buffer := range []int{0, 2} {
		m := g.NewMatcher(vocab)
		r := NewRun(RunOptions{Buffer: buffer, TokenBytes: tok.TokenBytes, Encode: tok.Encode, Tools: &fakeCaller{}})
		var out []byte
		var starts []int
		var drops []engine.Span
		n := 0
		appendTok := func(id int32) engine.Directive {
			if err := m.Accept(id); err != nil {
				t.Fatalf("grammar refuses token %q after %q: %v", tok.TokenBytes(id), out[max(0, len(out)-40):], err)
			}
			starts = append(starts, len(out))
			out = append(out, tok.TokenBytes(id)...)
			d := r.Appended(n, id)
			n++
			drops = append(drops, d.Drop...)
			return d
		}
		p := 0
		for _, cut := range append(cuts, len(doc)) {
			// As in the engine, a call pauses the sequence at the token that raised it: the
			// piece's later tokens are never sampled.
			var call func(context.Context) ([]int32, error)
			for _, id := range tok.Encode(doc[p:cut]) {
				if call = appendTok(id).Call; call != nil {
					break
				}
			}
			p = len(out)
			if p == len(doc) {
				break
			}
			if call == nil {
				t.Fatalf("no call at %d: %q", p, doc[max(0, p-30):p])
			}
			toks, err := call(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range toks {
				if appendTok(id).Call != nil {
					t.Fatal("a forced token raised a call")
				}
			}
			before := p
			p = resultEnd(p)
			prefixes[doc[before:strings.Index(doc[before:], ":")+before+1]] = true
			if string(out) != doc[:p] {
				t.Fatalf("forced text does not continue the document: %q", out[max(0, len(out)-60):])
			}
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		if string(out) != doc || !m.Complete() {
			t.Fatalf("output differs from the document, or is incomplete")
		}
		s := r.Stats()
		if s.ToolCalls != st.calls || s.ListsClosed != st.lists {
			t.Errorf("stats %+v", s)
		}
		// Drops hold whole tokens inside one list.
		for _, dr := range drops {
			b, e := starts[dr.Begin], len(out)
			if dr.End < len(starts) {
				e = starts[dr.End]
			}
			ok := false
			for _, l := range lists {
				ok = ok || (l.Begin <= b && e <= l.End)
			}
			if !ok || dr.Len() <= 0 {
				t.Fatalf("drop %v (bytes %q) is not inside a list", dr, out[b:e])
			}
		}
		if buffer == 0 && s.PrunedTokens == 0 {
			t.Error("nothing pruned at buffer 0")
		}
		t.Logf("buffer %d: %d output tokens, %d pruned, %d forced", buffer, n, s.PrunedTokens, s.ForcedTokens)
	}
	if len(prefixes) < 2 {
		t.Errorf("result prefixes %q: want the whole key and a part of it", slices.Collect(maps.Keys(prefixes)))
	}
	t.Logf("result prefixes: %q", slices.Collect(maps.Keys(prefixes)))
}
