package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// matcher finds the non-overlapping, non-empty matches of a pattern, left to right, as byte
// spans appended to dst.
type matcher interface {
	findAll(s string, dst [][2]int) [][2]int
}

// regexMatcher runs a tokenizers regex through regexp2, which has the look-ahead that the
// Qwen2 and Llama 3 patterns need and Go's regexp lacks. Known patterns get a hand-written
// matcher instead (see compilePattern).
type regexMatcher struct {
	re *regexp2.Regexp
}

func (m *regexMatcher) findAll(s string, dst [][2]int) [][2]int {
	if s == "" {
		return dst
	}
	runes := []rune(s)
	// regexp2 reports rune indices; map them back to byte offsets.
	offs := make([]int, len(runes)+1)
	b := 0
	for i, r := range runes {
		offs[i] = b
		b += utf8.RuneLen(r)
	}
	offs[len(runes)] = b
	mt, err := m.re.FindRunesMatch(runes)
	for err == nil && mt != nil {
		if mt.Length > 0 {
			dst = append(dst, [2]int{offs[mt.Index], offs[mt.Index+mt.Length]})
		}
		mt, err = m.re.FindNextMatch(mt)
	}
	return dst
}

// literalMatcher finds a fixed string (Split with a String pattern).
type literalMatcher string

func (m literalMatcher) findAll(s string, dst [][2]int) [][2]int {
	if m == "" {
		return dst
	}
	for off := 0; ; {
		i := strings.Index(s[off:], string(m))
		if i < 0 {
			return dst
		}
		dst = append(dst, [2]int{off + i, off + i + len(m)})
		off += i + len(m)
	}
}

// compilePattern compiles a tokenizers (Oniguruma) regex, preferring a hand-written matcher for
// the pre-tokenizer patterns that every request goes through.
func compilePattern(expr string) (matcher, error) {
	if m := knownPattern(expr); m != nil {
		return m, nil
	}
	return compileRegexp2(expr)
}

func compileRegexp2(expr string) (*regexMatcher, error) {
	re, err := regexp2.Compile(expr, regexp2.Unicode)
	if err != nil {
		return nil, fmt.Errorf("compile regex %q: %w", expr, err)
	}
	return &regexMatcher{re: re}, nil
}

// prePipeline is the flattened pre-tokenizer. When the last step is a plain ByteLevel mapping
// it is not performed here: byteLevel is set and the BPE model maps the raw bytes of each piece
// itself, which saves building the byte-level string of every piece.
type prePipeline struct {
	steps     []preStep
	byteLevel bool
}

type preScratch struct {
	a, b  []string
	spans [][2]int
}

type preStep interface {
	apply(in []string, first bool, out []string, sc *preScratch) []string
}

// run splits one normalized section into pieces appended to out.
func (p *prePipeline) run(s string, first bool, out []string, sc *preScratch) []string {
	if len(p.steps) == 0 {
		return append(out, s)
	}
	cur := append(sc.a[:0], s)
	for i, st := range p.steps {
		if i == len(p.steps)-1 {
			out = st.apply(cur, first, out, sc)
			sc.a = cur[:0]
			return out
		}
		next := st.apply(cur, first, sc.b[:0], sc)
		sc.a, sc.b = next, cur
		cur = next
	}
	return out
}

// splitBehavior is tokenizers' SplitDelimiterBehavior.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behRemoved, nil
	case "Isolated":
		return behIsolated, nil
	case "MergedWithPrevious":
		return behMergedWithPrevious, nil
	case "MergedWithNext":
		return behMergedWithNext, nil
	case "Contiguous":
		return behContiguous, nil
	}
	return 0, fmt.Errorf("unsupported split behavior %q", s)
}

type splitStep struct {
	expr     string // the regex, "" for a String pattern
	m        matcher
	behavior splitBehavior
	invert   bool
}

func (st *splitStep) apply(in []string, _ bool, out []string, sc *preScratch) []string {
	for _, s := range in {
		sc.spans = st.m.findAll(s, sc.spans[:0])
		out = splitBySpans(s, sc.spans, st.behavior, st.invert, out)
	}
	return out
}

// splitBySpans cuts s at the matches and arranges the parts by behavior, dropping empty
// pieces (tokenizers' NormalizedString::split).
func splitBySpans(s string, spans [][2]int, beh splitBehavior, invert bool, out []string) []string {
	if len(spans) == 0 && !invert && beh == behIsolated {
		if s != "" {
			out = append(out, s)
		}
		return out
	}
	type part struct {
		start, end int
		match      bool
	}
	var parts []part
	prev := 0
	for _, sp := range spans {
		if sp[0] > prev {
			parts = append(parts, part{prev, sp[0], invert})
		}
		parts = append(parts, part{sp[0], sp[1], !invert})
		prev = sp[1]
	}
	if prev < len(s) {
		parts = append(parts, part{prev, len(s), invert})
	}
	outStart, mergeStart := len(out), 0
	switch beh {
	case behIsolated:
		for _, p := range parts {
			out = append(out, s[p.start:p.end])
		}
	case behRemoved:
		for _, p := range parts {
			if !p.match {
				out = append(out, s[p.start:p.end])
			}
		}
	case behMergedWithPrevious:
		// A match joins the piece before it, unless that piece ended with a match too.
		prevMatch := false
		for _, p := range parts {
			if p.match && !prevMatch && len(out) > outStart {
				out[len(out)-1] = s[mergeStart:p.end]
			} else {
				out = append(out, s[p.start:p.end])
				mergeStart = p.start
			}
			prevMatch = p.match
		}
	case behMergedWithNext:
		// Mirror image: a match joins the piece after it, unless that one is a match too.
		nextMatch := false
		pieceEnd := len(s)
		var rev []string
		for i := len(parts) - 1; i >= 0; i-- {
			p := parts[i]
			if p.match && !nextMatch && len(rev) > 0 {
				rev[len(rev)-1] = s[p.start:pieceEnd]
			} else {
				rev = append(rev, s[p.start:p.end])
				pieceEnd = p.end
			}
			nextMatch = p.match
		}
		for i := len(rev) - 1; i >= 0; i-- {
			out = append(out, rev[i])
		}
	case behContiguous:
		prevMatch := false
		for _, p := range parts {
			if p.match == prevMatch && len(out) > outStart {
				out[len(out)-1] = s[mergeStart:p.end]
			} else {
				out = append(out, s[p.start:p.end])
				mergeStart = p.start
			}
			prevMatch = p.match
		}
	}
	return out
}

// byteLevelStep is tokenizers' ByteLevel pre-tokenizer: optional GPT-2 regex split, optional
// prefix space, then each byte mapped to a printable character.
type byteLevelStep struct {
	addPrefixSpace bool
	m              matcher // nil unless use_regex
	mapBytes       bool    // false when the model maps the bytes (last step of the pipeline)
}

func (st *byteLevelStep) apply(in []string, _ bool, out []string, sc *preScratch) []string {
	for _, s := range in {
		if st.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		start := len(out)
		if st.m != nil {
			sc.spans = st.m.findAll(s, sc.spans[:0])
			out = splitBySpans(s, sc.spans, behIsolated, false, out)
		} else if s != "" {
			out = append(out, s)
		}
		if st.mapBytes {
			for i := start; i < len(out); i++ {
				out[i] = byteLevelString(out[i])
			}
		}
	}
	return out
}

// metaspaceStep is tokenizers' Metaspace pre-tokenizer (SentencePiece-style ▁ for spaces).
type metaspaceStep struct {
	replacement string
	prepend     string // "always", "first" or "never"
	split       bool
}

func (st *metaspaceStep) apply(in []string, first bool, out []string, _ *preScratch) []string {
	for i, s := range in {
		s = strings.ReplaceAll(s, " ", st.replacement)
		if !strings.HasPrefix(s, st.replacement) &&
			(st.prepend == "always" || (st.prepend == "first" && first && i == 0)) {
			s = st.replacement + s
		}
		if !st.split {
			if s != "" {
				out = append(out, s)
			}
			continue
		}
		// Split before every replacement character but a leading one, keeping it with the word
		// that follows (tokenizers' MergedWithNext). A match cannot start inside a character,
		// so searching from the second byte is safe.
		for rest := s; rest != ""; {
			k := strings.Index(rest[1:], st.replacement)
			if k < 0 {
				out = append(out, rest)
				break
			}
			out = append(out, rest[:k+1])
			rest = rest[k+1:]
		}
	}
	return out
}

// digitsStep splits ASCII digits from the rest (tokenizers' Digits, which tests
// is_ascii_digit).
type digitsStep struct{ individual bool }

func (st *digitsStep) apply(in []string, _ bool, out []string, _ *preScratch) []string {
	for _, s := range in {
		start := 0
		prevDigit := false
		for i, r := range s {
			d := r >= '0' && r <= '9'
			if i > start && (d != prevDigit || (d && st.individual)) {
				out = append(out, s[start:i])
				start = i
			}
			prevDigit = d
		}
		if start < len(s) {
			out = append(out, s[start:])
		}
	}
	return out
}

// whitespaceSplitStep splits on whitespace, dropping it (tokenizers' WhitespaceSplit).
type whitespaceSplitStep struct{}

func (whitespaceSplitStep) apply(in []string, _ bool, out []string, _ *preScratch) []string {
	for _, s := range in {
		out = append(out, strings.FieldsFunc(s, unicode.IsSpace)...)
	}
	return out
}

func parsePreTokenizer(raw json.RawMessage) (*prePipeline, error) {
	p := &prePipeline{}
	if isNull(raw) {
		return p, nil
	}
	if err := p.add(raw); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	// Defer a trailing byte mapping to the model (see prePipeline).
	if n := len(p.steps); n > 0 {
		if bl, ok := p.steps[n-1].(*byteLevelStep); ok {
			bl.mapBytes = false
			p.byteLevel = true
			if !bl.addPrefixSpace && bl.m == nil {
				p.steps = p.steps[:n-1]
			}
		}
	}
	return p, nil
}

func (p *prePipeline) add(raw json.RawMessage) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return err
	}
	switch head.Type {
	case "Sequence":
		var c struct {
			Pretokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("Sequence: %w", err)
		}
		for i, r := range c.Pretokenizers {
			if err := p.add(r); err != nil {
				return fmt.Errorf("Sequence[%d]: %w", i, err)
			}
		}
	case "Split":
		var c struct {
			Pattern  patternJSON `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("Split: %w", err)
		}
		beh, err := parseBehavior(c.Behavior)
		if err != nil {
			return fmt.Errorf("Split: %w", err)
		}
		st := &splitStep{behavior: beh, invert: c.Invert}
		switch {
		case c.Pattern.Regex != nil:
			m, err := compilePattern(*c.Pattern.Regex)
			if err != nil {
				return fmt.Errorf("Split: %w", err)
			}
			st.m, st.expr = m, *c.Pattern.Regex
		case c.Pattern.String != nil:
			st.m = literalMatcher(*c.Pattern.String)
		default:
			return fmt.Errorf("Split: pattern has neither String nor Regex")
		}
		p.steps = append(p.steps, st)
	case "ByteLevel":
		var c struct {
			AddPrefixSpace bool  `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("ByteLevel: %w", err)
		}
		st := &byteLevelStep{addPrefixSpace: c.AddPrefixSpace, mapBytes: true}
		if c.UseRegex == nil || *c.UseRegex { // tokenizers defaults use_regex to true
			m, err := compilePattern(gpt2Pattern)
			if err != nil {
				return fmt.Errorf("ByteLevel: %w", err)
			}
			st.m = m
		}
		p.steps = append(p.steps, st)
	case "Metaspace":
		var c struct {
			Replacement    string  `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			Split          *bool   `json:"split"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("Metaspace: %w", err)
		}
		st := &metaspaceStep{replacement: c.Replacement, prepend: "always", split: true}
		if st.replacement == "" {
			st.replacement = "▁"
		}
		if c.PrependScheme != nil {
			st.prepend = *c.PrependScheme
		} else if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			st.prepend = "never"
		}
		switch st.prepend {
		case "always", "first", "never":
		default:
			return fmt.Errorf("Metaspace: unsupported prepend_scheme %q", st.prepend)
		}
		if c.Split != nil {
			st.split = *c.Split
		}
		p.steps = append(p.steps, st)
	case "Digits":
		var c struct {
			IndividualDigits bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("Digits: %w", err)
		}
		p.steps = append(p.steps, &digitsStep{individual: c.IndividualDigits})
	case "WhitespaceSplit":
		p.steps = append(p.steps, whitespaceSplitStep{})
	case "Whitespace":
		m, err := compileRegexp2(`\w+|[^\w\s]+`)
		if err != nil {
			return fmt.Errorf("Whitespace: %w", err)
		}
		p.steps = append(p.steps, &splitStep{m: m, behavior: behRemoved, invert: true})
	case "":
		return fmt.Errorf("pre-tokenizer without a type")
	default:
		return fmt.Errorf("unsupported pre-tokenizer type %q", head.Type)
	}
	return nil
}
