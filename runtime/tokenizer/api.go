// Package tokenizer turns text into token ids and back, exactly as the model's own Hugging Face
// tokenizer (tokenizer.json) does, and converts tokenizers to and from GGUF metadata.
//
// The pipeline follows tokenizers' fast-tokenizer order: added tokens (special or not) are cut
// out of the raw text first, every remaining section is normalized, pre-tokenized into pieces,
// and each piece is run through the BPE model. Decoding maps ids to token strings and runs the
// decoder chain. A Tokenizer is immutable after construction except for its internal cache and
// is safe for concurrent use.
//
// Deliberate differences from Hugging Face:
//   - Decode never applies clean_up_tokenization_spaces (" ." -> "."): the streaming decoder
//     must produce exactly the concatenation of its pieces, and generated text should be
//     returned as the model wrote it.
//   - Invalid UTF-8 given to Encode is replaced by U+FFFD first (Python strings cannot hold it).
//     Invalid byte sequences produced by Decode become U+FFFD per maximal invalid subsequence,
//     as Python's and JavaScript's UTF-8 decoders do.
//   - The case-insensitive contraction group of the Qwen2 and Llama 3 regexes folds ASCII only
//     (like transformers.js and llama.cpp); Oniguruma would also let "ſ" match "s".
//   - A character with no token, no byte fallback and no unk token is dropped instead of
//     failing the whole call.
package tokenizer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// GGUFVocab is a tokenizer as GGUF stores it under the tokenizer.ggml.* keys (and
// tokenizer.chat_template). The model package reads and writes GGUF; this package turns a
// GGUFVocab into a Tokenizer and back.
type GGUFVocab struct {
	Model        string    // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
	Pre          string    // tokenizer.ggml.pre: pre-tokenizer name, e.g. "qwen2", "llama-bpe", "default"
	Tokens       []string  // tokenizer.ggml.tokens
	Scores       []float32 // tokenizer.ggml.scores (may be nil)
	TokenTypes   []int32   // tokenizer.ggml.token_type: a TokenType* value per token
	Merges       []string  // tokenizer.ggml.merges, "a b" (BPE only)
	BOS, EOS     int32     // -1 when absent
	UNK, PAD     int32     // -1 when absent
	EOT          int32     // -1 when absent
	AddBOS       bool      // tokenizer.ggml.add_bos_token
	AddEOS       bool      // tokenizer.ggml.add_eos_token
	AddSpacePfx  bool      // tokenizer.ggml.add_space_prefix (SentencePiece)
	ChatTemplate string    // tokenizer.chat_template ("" when absent)
}

// GGUF token types (tokenizer.ggml.token_type), as llama.cpp defines them.
const (
	TokenTypeNormal      int32 = 1
	TokenTypeUnknown     int32 = 2
	TokenTypeControl     int32 = 3
	TokenTypeUserDefined int32 = 4
	TokenTypeUnused      int32 = 5
	TokenTypeByte        int32 = 6
)

// addedToken is an entry of tokenizer.json's added_tokens: text that is matched literally in the
// input before any normalization or pre-tokenization and always maps to its single id.
type addedToken struct {
	ID         int32
	Content    string
	Special    bool
	LStrip     bool // swallow whitespace on the left of a match
	RStrip     bool // swallow whitespace on the right of a match
	SingleWord bool // match only when not inside a word
	Normalized bool // match against normalized text rather than the raw input
}

// Tokenizer encodes text to ids and decodes ids to text. Build one with FromFile, FromBytes or
// FromGGUF.
type Tokenizer struct {
	vocab   []string         // id -> token string as the model stores it ("" in id gaps)
	ids     map[string]int32 // token string -> id, model vocabulary and added tokens
	added   []addedToken     // sorted by id
	special map[int32]bool   // ids of added tokens marked special

	rawAdded  *addedMatcher // added tokens with normalized=false, matched on the raw text
	normAdded *addedMatcher // added tokens with normalized=true, matched after normalization

	normalizer normalizer   // nil: identity
	pre        *prePipeline // never nil
	model      *bpeModel
	decoder    decoder // nil: tokens are concatenated

	bos          int32
	eos          []int32
	pad, unk     int32
	eot          int32
	addBOS       bool
	addEOS       bool
	bosText      string
	eosText      string
	chatTemplate string

	// How the tokenizer maps onto GGUF (see GGUF()).
	ggufModel   string // "gpt2" or "llama"; "" when not expressible
	ggufPre     string
	addSpacePfx bool

	bound tokenBound // for MinTokens and MaxTokenBytes, computed once built
}

// VocabSize is the highest token id plus one, added tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Token returns the token string of id as the vocabulary stores it (byte-level or ▁ form),
// or "" for an unknown id.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.vocab) {
		return ""
	}
	return t.vocab[id]
}

// ID returns the id of a token string (vocabulary form).
func (t *Tokenizer) ID(tok string) (int32, bool) {
	id, ok := t.ids[tok]
	return id, ok
}

// BOS is the beginning-of-sequence id, or -1 if the tokenizer has none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// AddBOS reports whether a prompt should start with BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS && t.bos >= 0 }

// EOS returns every id that ends generation, the configured eos_token first.
func (t *Tokenizer) EOS() []int32 { return slices.Clone(t.eos) }

// IsSpecial reports whether id is a special (control) token.
func (t *Tokenizer) IsSpecial(id int32) bool { return t.special[id] }

// ChatTemplate is the Jinja chat template from tokenizer_config.json ("" if none).
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }

// BOSToken is the text of the BOS token ("" if none); chat templates reference it.
func (t *Tokenizer) BOSToken() string { return t.bosText }

// EOSToken is the text of the configured EOS token ("" if none).
func (t *Tokenizer) EOSToken() string { return t.eosText }

// PAD is the padding id, or -1.
func (t *Tokenizer) PAD() int32 { return t.pad }

// UNK is the unknown-token id, or -1.
func (t *Tokenizer) UNK() int32 { return t.unk }

// Encode returns the ids of text, as Hugging Face's tokenizer.encode(text,
// add_special_tokens=False) does: added tokens written in the text become their ids, no BOS or
// EOS is added. Invalid UTF-8 is first replaced by U+FFFD (Python strings cannot hold it).
//
// Encode is for text whose author may write control tokens: a raw completions prompt, a chat
// template's markup. Text that is data (message contents, tool results) goes through
// EncodeText or EncodeMixed, so that it cannot end a turn or open a new one.
func (t *Tokenizer) Encode(text string) []int32 {
	return t.encode(toValidUTF8(text), nil)
}

// EncodeText returns the ids of text read as plain text, as Hugging Face's tokenizer.encode
// does with split_special_tokens=True: the text of a special (control) token such as
// "<|im_end|>" or "<|endoftext|>" is not matched and is encoded like any other characters.
// Added tokens that are not special (Qwen3's "<think>" and "<tool_call>") are still matched,
// as in Hugging Face. No BOS or EOS is added; invalid UTF-8 is replaced as in Encode.
func (t *Tokenizer) EncodeText(text string) []int32 {
	return t.encode(toValidUTF8(text), func(int, int) bool { return true })
}

// Span is the byte range [Start, End) of a text.
type Span struct {
	Start, End int
}

// EncodeMixed encodes text whose special-token text is control markup in some places and data
// in others, such as a rendered chat prompt: a special token whose text overlaps one of the
// spans in asText is encoded as plain text (as EncodeText does), every other one becomes its
// id (as Encode does). The whole text is tokenized in one pass, so the ids are those Encode
// would give if the data's special-token text were ordinary characters. asText must be
// sorted by Start and its spans must not overlap.
//
// Special tokens matched after normalization (normalized: true in tokenizer.json, which chat
// models do not use for their control tokens) cannot be placed in text exactly; they are read
// as plain text wherever the stretch between raw-matched added tokens that holds them overlaps
// a span.
func (t *Tokenizer) EncodeMixed(text string, asText []Span) []int32 {
	if len(asText) == 0 {
		return t.Encode(text)
	}
	if !utf8.ValidString(text) {
		text, asText = repairSpans(text, asText)
	}
	return t.encode(text, func(i, end int) bool {
		// The first span that ends after i is the only one that can overlap [i, end).
		k, _ := slices.BinarySearchFunc(asText, i, func(s Span, i int) int { return cmp.Compare(s.End, i+1) })
		return k < len(asText) && asText[k].Start < end && asText[k].End > i
	})
}

// repairSpans replaces invalid UTF-8 in text as toValidUTF8 does, piece by piece between the
// spans' boundaries, and moves the spans onto the repaired text.
func repairSpans(text string, spans []Span) (string, []Span) {
	var b strings.Builder
	b.Grow(len(text) + 8)
	out := make([]Span, len(spans))
	last := 0
	cut := func(at int) int {
		at = min(max(at, last), len(text))
		b.WriteString(toValidUTF8(text[last:at]))
		last = at
		return b.Len()
	}
	for k, s := range spans {
		out[k].Start = cut(s.Start)
		out[k].End = cut(s.End)
	}
	cut(len(text))
	return b.String(), out
}

// SpecialTokens returns the text of every added token marked special (the control tokens
// that Encode parses and EncodeText does not), in id order.
func (t *Tokenizer) SpecialTokens() []string {
	var out []string
	for _, a := range t.added {
		if a.Special {
			out = append(out, a.Content)
		}
	}
	return out
}

// encode runs the pipeline on valid UTF-8. asText, when not nil, says which special tokens
// found in the raw text, at text[i:end], are to be read as plain text; special tokens matched
// after normalization are asked about with the bounds of the raw stretch that holds them.
func (t *Tokenizer) encode(text string, asText func(i, end int) bool) []int32 {
	out := make([]int32, 0, len(text)/3+4)
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	t.rawAdded.split(text, asText, func(seg string, id int32, start int) {
		if id >= 0 {
			out = append(out, id)
			return
		}
		end := start + len(seg)
		if t.normalizer != nil {
			seg = t.normalizer.normalize(seg)
		}
		if seg == "" {
			return
		}
		var normAsText func(int, int) bool
		if asText != nil {
			normAsText = func(int, int) bool { return asText(start, end) }
		}
		t.normAdded.split(seg, normAsText, func(seg string, id int32, innerStart int) {
			if id >= 0 {
				out = append(out, id)
				return
			}
			out = t.encodeSection(seg, start == 0 && innerStart == 0, out, sc)
		})
	})
	return out
}

// encodeSection pre-tokenizes one stretch of normalized text and runs the model on each piece.
func (t *Tokenizer) encodeSection(seg string, first bool, out []int32, sc *scratch) []int32 {
	sc.pieces = t.pre.run(seg, first, sc.pieces[:0], &sc.pre)
	for _, p := range sc.pieces {
		out = t.model.encode(p, t.pre.byteLevel, out, &sc.bpe)
	}
	return out
}

// scratch holds per-call buffers, pooled so that Encode does not allocate them each time.
type scratch struct {
	pieces []string
	pre    preScratch
	bpe    bpeScratch
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Decode turns ids into text. Unknown ids are skipped; byte sequences that are not valid UTF-8
// (a token sequence cut inside a character) come out as U+FFFD.
func (t *Tokenizer) Decode(ids []int32) string {
	return toValidUTF8(t.decodeRaw(ids))
}

// decodeRaw runs the decoder chain and returns the result before UTF-8 repair, so that the
// streaming decoder can tell an incomplete character from a complete one.
func (t *Tokenizer) decodeRaw(ids []int32) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.vocab) {
			continue
		}
		toks = append(toks, t.vocab[id])
	}
	if t.decoder != nil {
		toks = t.decoder.decode(toks)
	}
	if len(toks) == 1 {
		return toks[0]
	}
	n := 0
	for _, s := range toks {
		n += len(s)
	}
	buf := make([]byte, 0, n)
	for _, s := range toks {
		buf = append(buf, s...)
	}
	return string(buf)
}

// String describes the tokenizer briefly (for logs).
func (t *Tokenizer) String() string {
	return fmt.Sprintf("tokenizer(vocab=%d, added=%d, gguf=%s/%s)", len(t.vocab), len(t.added), t.ggufModel, t.ggufPre)
}
