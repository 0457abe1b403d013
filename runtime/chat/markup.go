package chat

import (
	"fmt"
	"slices"
	"time"

	"github.com/arborlabs/arbor/runtime/tokenizer"
)

// A model's special (control) tokens, such as "<|im_start|>" and "<|im_end|>", belong to the
// chat template's markup. The same text inside what a client sent (message contents, tool
// results, tool call arguments, tool descriptions) is data and must not become a control
// token, or a user could end their turn and open a system one. RenderPrompt tells the two
// apart, so that the caller can encode the prompt with the markup's special tokens parsed and
// the data's read as plain text.
//
// It renders the conversation twice: as given, and with every occurrence of a special token's
// text in a client string replaced by filler of the same byte length. The template runs the
// same logic on both (it strips, splits on "</think>", trims, serializes arguments with
// tojson: none of it depends on that text), so the two outputs have the same length and
// differ exactly where the client's special-token text landed. Those byte ranges are
// returned with the prompt; a special token whose text overlaps one of them came from data.
//
// When the two renders differ in length, the template did something with the text itself
// (escaped it, removed it, tested for it) and its position in the output cannot be traced;
// RenderPrompt then refuses with a *SpecialTextError rather than guess, since a wrong guess
// could let a client's text act as markup. The filler keeps the byte length, not the count of
// characters, so a template that cuts content by characters may be refused for non-ASCII
// special tokens. Special-token text that a template assembles out of content that holds none
// (by changing case, say) is not detected; no common chat template does that.

// Specials is the set of special-token texts a tokenizer reads as control tokens. Build it
// once per tokenizer with NewSpecials; it is immutable and safe for concurrent use.
type Specials struct {
	set   map[string]bool
	lens  []int     // the distinct lengths of the texts, longest first
	first [256]bool // bytes that start a text
	fill  byte      // the filler byte: in no text, so filler never matches a special token
}

// fillCandidates are the filler bytes to try, in order: printable ASCII that no case mapping,
// trimming, JSON or HTML escaping changes, so that a template's string handling treats the
// filler as it would most text.
const fillCandidates = "#~^*@$%+=!?:;.,-/|_0123456789"

// NewSpecials makes the set of special-token texts (a tokenizer's SpecialTokens). Empty texts
// are ignored; with none left it returns nil, which RenderPrompt accepts.
func NewSpecials(texts []string) *Specials {
	sp := &Specials{set: map[string]bool{}}
	var used [256]bool
	for _, s := range texts {
		if s == "" || sp.set[s] {
			continue
		}
		sp.set[s] = true
		sp.first[s[0]] = true
		if !slices.Contains(sp.lens, len(s)) {
			sp.lens = append(sp.lens, len(s))
		}
		for i := 0; i < len(s); i++ {
			used[s[i]] = true
		}
	}
	if len(sp.set) == 0 {
		return nil
	}
	slices.Sort(sp.lens)
	slices.Reverse(sp.lens)
	sp.fill = '#'
	for i := 0; i < len(fillCandidates); i++ {
		if !used[fillCandidates[i]] {
			sp.fill = fillCandidates[i]
			break
		}
	}
	for b := 0x21; used[sp.fill] && b < 0x7f; b++ {
		sp.fill = byte(b)
	}
	return sp
}

// find returns the position and length of the leftmost (then longest) special-token text in
// s at or after from, or -1.
func (sp *Specials) find(s string, from int) (int, int) {
	for i := from; i < len(s); i++ {
		if !sp.first[s[i]] {
			continue
		}
		for _, n := range sp.lens {
			if i+n <= len(s) && sp.set[s[i:i+n]] {
				return i, n
			}
		}
	}
	return -1, 0
}

// rewriter replaces special-token text in the strings a render takes from its Input by
// filler, and remembers the first text it replaced. A nil *rewriter leaves strings as they are.
type rewriter struct {
	sp    *Specials
	found string
}

func (r *rewriter) str(s string) string {
	if r == nil {
		return s
	}
	i, n := r.sp.find(s, 0)
	if i < 0 {
		return s
	}
	if r.found == "" {
		r.found = s[i : i+n]
	}
	b := []byte(s)
	for ; i >= 0; i, n = r.sp.find(s, i+n) {
		for k := i; k < i+n; k++ {
			b[k] = r.sp.fill
		}
	}
	return string(b)
}

// Prompt is a rendered conversation.
type Prompt struct {
	// Text is the template's output, exactly as Render returns it.
	Text string
	// Data are the byte ranges of Text, in order and apart, that hold special-token text from
	// the client's strings rather than from the template. A special token overlapping one of
	// them must be encoded as plain text. Empty when the client wrote no special-token text.
	Data []tokenizer.Span
}

// SpecialTextError is the error of a conversation whose strings hold special-token text that
// the template transforms so that it cannot be told apart from the template's own markup.
type SpecialTextError struct {
	Token string // the first special-token text found in the client's strings
}

func (e *SpecialTextError) Error() string {
	return fmt.Sprintf("the conversation holds the special-token text %q, and the chat template rewrites "+
		"it in a way that keeps it from being told apart from the template's own markup; leave it out", e.Token)
}

// RenderPrompt renders the conversation as Render does and finds where special-token text
// from the client's strings (contents, text parts, names, tool calls and their arguments,
// tool results, reasoning, tool definitions, Extra) ended up in the output. sp is the
// tokenizer's special-token texts; with a nil sp it returns Render's text and no Data. A
// second render is made only when some client string holds special-token text. An error
// wrapping *SpecialTextError means the template transformed that text untraceably.
func (t *Template) RenderPrompt(in Input, sp *Specials) (Prompt, error) {
	if sp == nil {
		text, err := t.render(in, nil)
		return Prompt{Text: text}, err
	}
	if in.Now.IsZero() {
		in.Now = time.Now() // both renders must see the same clock
	}
	rw := &rewriter{sp: sp}
	neutral, nerr := t.render(in, rw)
	if rw.found == "" {
		// No client string held special-token text: this is the real render.
		return Prompt{Text: neutral}, nerr
	}
	text, err := t.render(in, nil)
	if err != nil {
		return Prompt{}, err
	}
	if nerr != nil || len(neutral) != len(text) {
		return Prompt{}, fmt.Errorf("chat: render: %w", &SpecialTextError{Token: rw.found})
	}
	return Prompt{Text: text, Data: differences(text, neutral)}, nil
}

// differences returns the maximal byte ranges where a and b (of equal length) differ.
func differences(a, b string) []tokenizer.Span {
	var out []tokenizer.Span
	for i := 0; i < len(a); {
		if a[i] == b[i] {
			i++
			continue
		}
		j := i + 1
		for j < len(a) && a[j] != b[j] {
			j++
		}
		out = append(out, tokenizer.Span{Start: i, End: j})
		i = j
	}
	return out
}
