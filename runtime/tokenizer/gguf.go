package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// padToken is the placeholder llama.cpp's converter writes for ids the tokenizer does not use.
func padToken(id int) string { return "[PAD" + strconv.Itoa(id) + "]" }

// PadTo appends unused "[PAD<id>]" tokens until the vocabulary has n entries: model embedding
// tables are often larger than the tokenizer (Qwen's has 151936 rows for 151669 tokens), and
// llama.cpp wants one token per row.
func (v *GGUFVocab) PadTo(n int) {
	for i := len(v.Tokens); i < n; i++ {
		v.Tokens = append(v.Tokens, padToken(i))
		if v.TokenTypes != nil {
			v.TokenTypes = append(v.TokenTypes, TokenTypeUnused)
		}
		if v.Scores != nil {
			v.Scores = append(v.Scores, 0)
		}
	}
}

// GGUF returns the tokenizer as GGUF metadata, the way llama.cpp's converter writes it: byte-level
// BPE as model "gpt2" with the pre-tokenizer named ("qwen2", "llama-bpe", else "default"),
// SentencePiece-style BPE as model "llama" with scores and byte tokens. Ids the tokenizer skips
// are filled with unused "[PAD<id>]" tokens.
func (t *Tokenizer) GGUF() (*GGUFVocab, error) {
	if t.ggufModel == "" {
		return nil, errors.New("tokenizer: neither byte-level BPE nor SentencePiece-style BPE; cannot express " +
			"it as GGUF")
	}
	n := len(t.vocab)
	v := &GGUFVocab{
		Model:        t.ggufModel,
		Pre:          t.ggufPre,
		Tokens:       make([]string, n),
		TokenTypes:   make([]int32, n),
		BOS:          t.bos,
		UNK:          t.unk,
		PAD:          t.pad,
		EOT:          t.eot,
		EOS:          -1,
		AddBOS:       t.AddBOS(),
		AddEOS:       t.addEOS,
		AddSpacePfx:  t.addSpacePfx,
		ChatTemplate: t.chatTemplate,
	}
	if len(t.eos) > 0 {
		v.EOS = t.eos[0]
	}
	modelIDs := make([]bool, n)
	for _, id := range t.model.vocab {
		modelIDs[id] = true
	}
	addedByID := map[int32]*addedToken{}
	for i := range t.added {
		addedByID[t.added[i].ID] = &t.added[i]
	}
	for id := 0; id < n; id++ {
		tok := t.vocab[id]
		typ := TokenTypeNormal
		switch a := addedByID[int32(id)]; {
		case a != nil && a.Special:
			typ = TokenTypeControl
		case a != nil:
			typ = TokenTypeUserDefined
		case !modelIDs[id]:
			tok, typ = padToken(id), TokenTypeUnused
		}
		if t.ggufModel == "llama" {
			if int32(id) == t.unk {
				typ = TokenTypeUnknown
			} else if _, ok := parseByteToken(tok); ok && modelIDs[id] {
				typ = TokenTypeByte
			}
		}
		v.Tokens[id], v.TokenTypes[id] = tok, typ
	}

	// Merges in rank order, as "a b".
	type rm struct {
		rank int32
		a, b int32
	}
	ms := make([]rm, 0, len(t.model.merges))
	for k, m := range t.model.merges {
		ms = append(ms, rm{m.rank, int32(k >> 32), int32(uint32(k))})
	}
	slices.SortFunc(ms, func(x, y rm) int { return int(x.rank - y.rank) })
	v.Merges = make([]string, len(ms))
	for i, m := range ms {
		v.Merges[i] = t.vocab[m.a] + " " + t.vocab[m.b]
	}

	if t.ggufModel == "llama" {
		// llama.cpp's SentencePiece tokenizer merges the adjacent pair whose concatenation has
		// the highest score. Scoring each token by minus the rank of the first merge that
		// produces it reproduces the BPE merge order; other tokens never come out of a merge.
		v.Scores = make([]float32, n)
		for i := range v.Scores {
			v.Scores[i] = 0
		}
		firstRank := make([]int32, n)
		for i := range firstRank {
			firstRank[i] = math.MaxInt32
		}
		for _, m := range t.model.merges {
			firstRank[m.id] = min(firstRank[m.id], m.rank)
		}
		for id, r := range firstRank {
			if r != math.MaxInt32 {
				v.Scores[id] = -float32(r)
			} else if v.TokenTypes[id] == TokenTypeNormal && utf8.RuneCountInString(v.Tokens[id]) > 1 {
				v.Scores[id] = -float32(len(t.model.merges) + id) // unreachable by merges: last
			}
		}
	}
	return v, nil
}

// FromGGUF builds a tokenizer from GGUF metadata: model "gpt2" (byte-level BPE, tokenizer.ggml.pre
// choosing the split regex) or "llama" (SentencePiece-style: ▁ for space, <0xNN> byte tokens,
// merges by score unless merges are given).
func FromGGUF(v *GGUFVocab) (*Tokenizer, error) {
	t, err := fromGGUF(v)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: gguf: %w", err)
	}
	return t, nil
}

func fromGGUF(v *GGUFVocab) (*Tokenizer, error) {
	if v == nil || len(v.Tokens) == 0 {
		return nil, errors.New("no tokens")
	}
	n := len(v.Tokens)
	if v.TokenTypes != nil && len(v.TokenTypes) != n {
		return nil, fmt.Errorf("%d token types for %d tokens", len(v.TokenTypes), n)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, fmt.Errorf("%d scores for %d tokens", len(v.Scores), n)
	}
	typeOf := func(id int) int32 {
		if v.TokenTypes == nil {
			return TokenTypeNormal
		}
		return v.TokenTypes[id]
	}
	vocab := make(map[string]int32, n)
	var added []addedToken
	for id, tok := range v.Tokens {
		switch typ := typeOf(id); typ {
		case TokenTypeNormal, TokenTypeByte, TokenTypeUnknown:
			if _, dup := vocab[tok]; !dup {
				vocab[tok] = int32(id)
			}
			if typ == TokenTypeUnknown {
				added = append(added, addedToken{ID: int32(id), Content: tok, Special: true})
			}
		case TokenTypeControl, TokenTypeUserDefined:
			if tok == "" {
				continue
			}
			added = append(added, addedToken{ID: int32(id), Content: tok, Special: typ == TokenTypeControl})
			if v.Model == "llama" && typ == TokenTypeControl {
				// SentencePiece keeps control tokens in its vocabulary (Llama 2's <s>, </s>).
				if _, dup := vocab[tok]; !dup {
					vocab[tok] = int32(id)
				}
			}
		case TokenTypeUnused:
		default:
			return nil, fmt.Errorf("token %d %q: unknown token type %d", id, tok, typ)
		}
	}
	checkID := func(name string, id int32) (int32, error) {
		if id < -1 || int(id) >= n {
			return -1, fmt.Errorf("%s id %d out of range [0,%d)", name, id, n)
		}
		return id, nil
	}
	var ids [5]int32
	for i, x := range []struct {
		name string
		id   int32
	}{{"bos", v.BOS}, {"eos", v.EOS}, {"unk", v.UNK}, {"pad", v.PAD}, {"eot", v.EOT}} {
		id, err := checkID(x.name, x.id)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}

	t := &Tokenizer{ggufModel: v.Model, ggufPre: v.Pre, addSpacePfx: v.AddSpacePfx}
	unk := int32(-1)
	switch v.Model {
	case "gpt2":
		t.model = newBPEModel(vocab, -1)
		t.pre = &prePipeline{byteLevel: true}
		t.decoder = byteLevelDecoder{}
		switch v.Pre {
		case "qwen2":
			// Hugging Face's Qwen2 tokenizer NFC-normalizes first; llama.cpp does not, but ids
			// must match the model's own tokenizer.
			t.normalizer = unicodeNorm{norm.NFC}
			t.pre.steps = []preStep{&splitStep{expr: qwen2Pattern, m: mustPattern(qwen2Pattern), behavior: behIsolated}}
		case "llama-bpe", "llama3":
			t.pre.steps = []preStep{&splitStep{expr: llama3Pattern, m: mustPattern(llama3Pattern),
				behavior: behIsolated}}
			t.model.ignoreMerges = true // llama.cpp sets it for this pre-tokenizer too
		case "default", "gpt2", "":
			t.pre.steps = []preStep{&byteLevelStep{m: mustPattern(gpt2Pattern)}}
			t.ggufPre = "default"
		default:
			return nil, fmt.Errorf("unsupported tokenizer.ggml.pre %q (supported: qwen2, llama-bpe, default)", v.Pre)
		}
		if len(v.Merges) == 0 {
			return nil, errors.New("model gpt2 without merges")
		}
		for i, s := range v.Merges {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("merge %d %q is not two tokens separated by a space", i, s)
			}
			if err := t.model.addMerge(a, b, i); err != nil {
				// llama.cpp tolerates merges it cannot use; so do we.
				continue
			}
		}
	case "llama":
		unk = ids[2]
		t.model = newBPEModel(vocab, unk)
		t.model.byteFallback, t.model.fuseUnk = true, true
		t.pre = &prePipeline{}
		repl := &replacer{literal: " ", content: "▁"}
		if v.AddSpacePfx {
			t.normalizer = seqNorm{prependNorm{"▁"}, replaceNorm{repl}}
		} else {
			t.normalizer = replaceNorm{repl}
		}
		strip := 0
		if v.AddSpacePfx {
			strip = 1
		}
		t.decoder = decoderSeq{replaceDecoder{&replacer{literal: "▁", content: " "}}, byteFallbackDecoder{},
			fuseDecoder{}, stripDecoder{content: " ", start: strip}}
		if len(v.Merges) > 0 {
			for i, s := range v.Merges {
				a, b, ok := strings.Cut(s, " ")
				if !ok {
					return nil, fmt.Errorf("merge %d %q is not two tokens separated by a space", i, s)
				}
				if err := t.model.addMerge(a, b, i); err != nil {
					continue
				}
			}
		} else {
			if v.Scores == nil {
				return nil, errors.New("model llama without scores or merges")
			}
			t.model.mergesFromScores(v.Tokens, v.Scores, typeOf)
		}
	default:
		return nil, fmt.Errorf("unsupported tokenizer.ggml.model %q (supported: gpt2, llama)", v.Model)
	}

	t.setVocab(vocab, added)
	// Unused ids keep their placeholder text so that Token and GGUF round-trip them.
	for len(t.vocab) < n {
		t.vocab = append(t.vocab, "")
	}
	for id, tok := range v.Tokens {
		if typeOf(id) == TokenTypeUnused {
			t.vocab[id] = tok
		}
	}
	t.bos, t.pad, t.unk, t.eot = ids[0], ids[3], unk, ids[4]
	if v.Model == "gpt2" {
		t.unk = ids[2]
	}
	if t.bos >= 0 {
		t.bosText = t.vocab[t.bos]
	}
	t.addBOS, t.addEOS = v.AddBOS, v.AddEOS
	t.chatTemplate = v.ChatTemplate
	t.setEOS(ids[1], nil)
	t.bound = t.computeBound()
	return t, nil
}

func mustPattern(expr string) matcher {
	m, err := compilePattern(expr)
	if err != nil {
		panic(err) // the built-in patterns compile; a failure is a programming error
	}
	return m
}

// mergesFromScores derives BPE merges from SentencePiece scores, as llama.cpp's SPM tokenizer
// merges: any adjacent pair whose concatenation is a normal token may merge, the highest-scoring
// result first and the leftmost among equal scores (so equal scores share a rank).
func (m *bpeModel) mergesFromScores(tokens []string, scores []float32, typeOf func(int) int32) {
	type cand struct {
		score float32
		a, b  int32
		id    int32
	}
	var cands []cand
	for id, tok := range tokens {
		if typeOf(id) != TokenTypeNormal || utf8.RuneCountInString(tok) < 2 {
			continue
		}
		for i := range tok {
			if i == 0 {
				continue
			}
			a, okA := m.vocab[tok[:i]]
			b, okB := m.vocab[tok[i:]]
			if okA && okB {
				cands = append(cands, cand{scores[id], a, b, int32(id)})
			}
		}
	}
	slices.SortStableFunc(cands, func(x, y cand) int {
		switch {
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		return 0
	})
	rank := int32(-1)
	for i, c := range cands {
		if i == 0 || c.score != cands[i-1].score {
			rank++
		}
		k := pairKey(c.a, c.b)
		if _, dup := m.merges[k]; !dup {
			m.merges[k] = merge{rank: rank, id: c.id}
		}
	}
}
