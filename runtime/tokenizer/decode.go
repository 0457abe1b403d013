package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// decoder is one step of tokenizers' decoder chain over token strings. Strings here may hold
// raw bytes that are not valid UTF-8 yet (a character split over byte tokens); Decode repairs
// the final result, so a streaming caller can see whether the end is incomplete.
type decoder interface {
	decode(toks []string) []string
}

type decoderSeq []decoder

func (d decoderSeq) decode(toks []string) []string {
	for _, x := range d {
		toks = x.decode(toks)
	}
	return toks
}

// byteLevelDecoder maps byte-level characters back to bytes. A token with a character outside
// the table (an added token written in plain text, say with a CJK character) is kept verbatim.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decode(toks []string) []string {
	n := 0
	for _, t := range toks {
		n += len(t)
	}
	buf := make([]byte, 0, n)
	for _, t := range toks {
		mark := len(buf)
		ok := true
		for _, r := range t {
			b, found := runeToByte[r]
			if !found {
				ok = false
				break
			}
			buf = append(buf, b)
		}
		if !ok {
			buf = append(buf[:mark], t...)
		}
	}
	return []string{string(buf)}
}

type replaceDecoder struct{ r *replacer }

func (d replaceDecoder) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = d.r.replace(t)
	}
	return out
}

// byteFallbackDecoder turns runs of <0xNN> tokens into their bytes.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decode(toks []string) []string {
	out := make([]string, 0, len(toks))
	var run []byte
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			run = append(run, b)
			continue
		}
		if len(run) > 0 {
			out = append(out, string(run))
			run = run[:0]
		}
		out = append(out, t)
	}
	if len(run) > 0 {
		out = append(out, string(run))
	}
	return out
}

// parseByteToken recognises SentencePiece byte tokens "<0xNN>".
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(t[3])
	lo, ok2 := hexVal(t[4])
	if !ok1 || !ok2 {
		return 0, false
	}
	return hi<<4 | lo, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

type fuseDecoder struct{}

func (fuseDecoder) decode(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDecoder removes up to start leading and stop trailing copies of content from each token
// (Llama 2 strips the space that the ▁ dummy prefix turned into).
type stripDecoder struct {
	content     string
	start, stop int
}

func (d stripDecoder) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		for n := 0; n < d.start && d.content != "" && strings.HasPrefix(t, d.content); n++ {
			t = t[len(d.content):]
		}
		for n := 0; n < d.stop && d.content != "" && strings.HasSuffix(t, d.content); n++ {
			t = t[:len(t)-len(d.content)]
		}
		out[i] = t
	}
	return out
}

// metaspaceDecoder turns ▁ back into spaces and drops the prefix space of the first token.
type metaspaceDecoder struct {
	replacement string
	stripFirst  bool
}

func (d metaspaceDecoder) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		t = strings.ReplaceAll(t, d.replacement, " ")
		if i == 0 && d.stripFirst {
			t = strings.TrimPrefix(t, " ")
		}
		out[i] = t
	}
	return out
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch head.Type {
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Replace":
		var c struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		r, err := newReplacer(c.Pattern, c.Content)
		if err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		return replaceDecoder{r}, nil
	case "Strip":
		var c struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Strip: %w", err)
		}
		return stripDecoder{content: c.Content, start: c.Start, stop: c.Stop}, nil
	case "Metaspace":
		var c struct {
			Replacement    string  `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Metaspace: %w", err)
		}
		d := metaspaceDecoder{replacement: c.Replacement, stripFirst: true}
		if d.replacement == "" {
			d.replacement = "▁"
		}
		if c.PrependScheme != nil {
			d.stripFirst = *c.PrependScheme != "never"
		} else if c.AddPrefixSpace != nil {
			d.stripFirst = *c.AddPrefixSpace
		}
		return d, nil
	case "Sequence":
		var c struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoder Sequence: %w", err)
		}
		var seq decoderSeq
		for i, r := range c.Decoders {
			d, err := parseDecoder(r)
			if err != nil {
				return nil, fmt.Errorf("decoder Sequence[%d]: %w", i, err)
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	case "":
		return nil, fmt.Errorf("decoder without a type")
	}
	return nil, fmt.Errorf("unsupported decoder type %q", head.Type)
}

// toValidUTF8 replaces each maximal invalid subsequence with U+FFFD, the way Python's
// bytes.decode(errors="replace") and JavaScript's TextDecoder do (Go's strings.ToValidUTF8
// would fold whole runs of bad bytes into one).
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += invalidPrefixLen(s[i:])
	}
	return b.String()
}

// invalidPrefixLen is the length of the maximal subpart at the start of s (which does not start
// with a valid character): a lead byte plus the continuation bytes that could still have
// completed it, or 1.
func invalidPrefixLen(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		b := s[n]
		if b < lo || b > hi {
			break
		}
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

// incompleteTail reports how many bytes at the end of s are the start of a character that more
// bytes could still complete (0 if s ends on a character boundary or in garbage).
func incompleteTail(s string) int {
	for k := 1; k <= 3 && k <= len(s); k++ {
		c := s[len(s)-k]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a lead byte: is the sequence from here a valid, unfinished prefix?
			tail := s[len(s)-k:]
			if utf8.FullRuneInString(tail) {
				return 0
			}
			if invalidPrefixLen(tail) == len(tail) {
				return k
			}
			return 0
		}
	}
	return 0
}

// Decoder decodes a stream of ids as they are generated, returning only whole characters.
// Concatenating every Next result and the final Flush gives exactly Decode of all the ids.
type Decoder struct {
	t       *Tokenizer
	ctx     []int32 // already emitted ids that the pending ones are decoded after
	ctxText string  // decodeRaw(ctx)
	pending []int32
}

// NewDecoder starts a streaming decode.
func (t *Tokenizer) NewDecoder() *Decoder { return &Decoder{t: t} }

// Next adds one id and returns the text it completes ("" while a character is incomplete).
//
// Decoders have position-dependent steps (Llama 2 strips the leading space of the whole text),
// so pending ids are decoded after the ids emitted last, and that context's own decoding is
// cut off the front: both decodings get the same treatment at their start, and every step
// after it works token by token, so the difference is exactly the new text.
func (d *Decoder) Next(id int32) string {
	d.pending = append(d.pending, id)
	full := d.t.decodeRaw(append(d.ctx[:len(d.ctx):len(d.ctx)], d.pending...))
	if !strings.HasPrefix(full, d.ctxText) {
		// Not possible with the decoders this package has; hold everything back for Flush
		// rather than emit text that a full Decode would contradict.
		return ""
	}
	fresh := full[len(d.ctxText):]
	if incompleteTail(fresh) > 0 {
		return ""
	}
	// The emitted ids end on a character boundary; they become the context.
	d.ctxText = d.t.decodeRaw(d.pending)
	d.ctx = append(d.ctx[:0], d.pending...)
	d.pending = d.pending[:0]
	return toValidUTF8(fresh)
}

// Flush returns whatever is still held back (an incomplete character comes out as U+FFFD) and
// resets the decoder.
func (d *Decoder) Flush() string {
	var out string
	if len(d.pending) > 0 {
		full := d.t.decodeRaw(append(d.ctx[:len(d.ctx):len(d.ctx)], d.pending...))
		if strings.HasPrefix(full, d.ctxText) {
			out = toValidUTF8(full[len(d.ctxText):])
		}
	}
	d.ctx, d.ctxText, d.pending = d.ctx[:0], "", d.pending[:0]
	return out
}
