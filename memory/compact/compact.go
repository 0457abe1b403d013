// Package compact keeps a conversation's compact memory, HEMA-style: a running summary S(t) =
// summarise(S(t-1), turn t) of at most a few dozen tokens, and every so many turns a summary of
// the summaries. Summarizer is the seam: the served model can summarise (a low-priority internal
// request), and Extractive, here, needs no model: it keeps the sentences that carry the most
// new, specific content (numbers, names, rare words) within the budget. It is the default with
// the demo model, whose own text is noise, and in tests.
package compact

import (
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Turn is what a summariser reads of one turn: the user's message and the reply.
type Turn struct {
	User, Reply string
}

// Summarizer folds one turn into a running summary, or summaries into one.
type Summarizer interface {
	// Update returns summarise(prev, turn): at most the budget's tokens.
	Update(ctx context.Context, prev string, turn Turn) (string, error)
	// Merge returns one summary of several (oldest first), at most the budget's tokens.
	Merge(ctx context.Context, summaries []string) (string, error)
}

// DefaultBudget is the running summary's size in tokens (HEMA's compact memory).
const DefaultBudget = 60

// MergeEvery is how many turns go by between summaries of the summaries.
const MergeEvery = 100

// Extractive is the model-free summariser: the summary is a selection of whole sentences (or,
// for a sentence longer than the budget, its first words) from the previous summary and the
// turn, in their original order, chosen greedily by how much specific content each adds that
// the sentences already chosen do not have.
type Extractive struct {
	// Budget is the most tokens a summary may have (0: DefaultBudget).
	Budget int
	// Count counts a text's tokens (the served model's tokenizer); nil counts words and
	// punctuation, which is close to a BPE count for English and never below it by much.
	Count func(string) int
}

// Update implements Summarizer.
func (e *Extractive) Update(ctx context.Context, prev string, turn Turn) (string, error) {
	var cands []candidate
	cands = appendSentences(cands, prev, 0, 1.0)
	// The newest turn weighs a little more than what the summary already holds, so that the
	// summary follows the conversation rather than freezing on its first facts; the user's
	// words more than the reply's (they say what the user cares about).
	cands = appendSentences(cands, turn.User, 1, 1.3)
	cands = appendSentences(cands, turn.Reply, 2, 1.15)
	return e.pick(ctx, cands)
}

// Merge implements Summarizer.
func (e *Extractive) Merge(ctx context.Context, summaries []string) (string, error) {
	var cands []candidate
	for i, s := range summaries {
		// Later summaries are more current: a slight preference, as in Update.
		cands = appendSentences(cands, s, i, 1+0.1*float64(i)/float64(max(1, len(summaries)-1)))
	}
	return e.pick(ctx, cands)
}

type candidate struct {
	text   string
	source int // which input it came from; with seq, the original order
	seq    int
	weight float64
	terms  []string
}

func (e *Extractive) count(s string) int {
	if e.Count != nil {
		return e.Count(s)
	}
	return len(words(s))
}

func (e *Extractive) budget() int {
	if e.Budget > 0 {
		return e.Budget
	}
	return DefaultBudget
}

// pick chooses sentences greedily by new specific content per token, then restores their
// order. A sentence whose terms are all covered adds nothing and is left out, so a fact
// repeated turn after turn is kept once.
func (e *Extractive) pick(ctx context.Context, cands []candidate) (string, error) {
	budget := e.budget()
	covered := map[string]bool{}
	var chosen []candidate
	used := 0
	for len(cands) > 0 {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		best, bestScore := -1, 0.0
		for i, c := range cands {
			gain := 0.0
			for _, t := range c.terms {
				if !covered[t] {
					gain += termWeight(t)
				}
			}
			if gain == 0 {
				continue
			}
			n := max(1, e.count(c.text))
			// Gain per token, damped so that long informative sentences are not always
			// beaten by two-word fragments.
			score := c.weight * gain / (4 + float64(n))
			if score > bestScore && score >= minScore {
				best, bestScore = i, score
			}
		}
		if best < 0 {
			break
		}
		c := cands[best]
		cands = slices.Delete(cands, best, best+1)
		n := e.count(c.text)
		if used+n > budget {
			if used > 0 {
				continue // too long for what is left; a shorter one may still fit
			}
			c.text = e.truncate(c.text, budget)
			n = e.count(c.text)
		}
		for _, t := range c.terms {
			covered[t] = true
		}
		chosen = append(chosen, c)
		used += n
		if used >= budget {
			break
		}
	}
	slices.SortFunc(chosen, func(a, b candidate) int {
		if a.source != b.source {
			return a.source - b.source
		}
		return a.seq - b.seq
	})
	parts := make([]string, len(chosen))
	for i, c := range chosen {
		parts[i] = c.text
	}
	return strings.Join(parts, " "), nil
}

// truncate cuts s to its first words that fit in budget tokens.
func (e *Extractive) truncate(s string, budget int) string {
	fields := strings.Fields(s)
	lo, hi := 0, len(fields)
	for lo < hi { // the longest prefix that fits
		mid := (lo + hi + 1) / 2
		if e.count(strings.Join(fields[:mid], " ")) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return strings.Join(fields[:lo], " ")
}

// minScore is the least content per token a sentence must add to be kept, however much room
// is left: a summary is for facts, not for every sentence that happens to fit.
const minScore = 0.15

// termWeight is how much a term says: numbers and capitalised words (names, places, products)
// are the facts a later question asks about; long words say more than short ones; the
// commonest function words say nothing.
func termWeight(t string) float64 {
	switch {
	case stop[t]:
		return 0
	case strings.HasPrefix(t, "#"): // a number
		return 3
	case strings.HasPrefix(t, "^"): // a capitalised word
		return 2
	}
	return 0.5 + 0.1*float64(min(utf8.RuneCountInString(t), 10))
}

// maxSentences bounds the sentences one input contributes: picking is quadratic in the
// candidates, and a reply of thousands of sentences must not make a summary cost seconds. A
// longer input keeps its first and last halves (where messages state and conclude).
const maxSentences = 256

// appendSentences splits text into sentences and appends them as candidates.
func appendSentences(cands []candidate, text string, source int, weight float64) []candidate {
	ss := sentences(text)
	if len(ss) > maxSentences {
		ss = append(ss[:maxSentences/2:maxSentences/2], ss[len(ss)-maxSentences/2:]...)
	}
	for i, s := range ss {
		cands = append(cands, candidate{text: s, source: source, seq: i, weight: weight, terms: terms(s)})
	}
	return cands
}

// sentences splits text at sentence ends (., !, ? followed by space) and line breaks.
func sentences(text string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, strings.Join(strings.Fields(s), " "))
		}
		start = end
	}
	for i, r := range text {
		switch {
		case r == '\n':
			flush(i + 1)
		case r == '.' || r == '!' || r == '?':
			next := i + 1
			if next >= len(text) || text[next] == ' ' || text[next] == '\n' {
				flush(next)
			}
		}
	}
	flush(len(text))
	return out
}

// words splits s into words and punctuation marks.
func words(s string) []string {
	var out []string
	f := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' }
	for _, w := range strings.FieldsFunc(s, unicode.IsSpace) {
		parts := strings.FieldsFunc(w, f)
		out = append(out, parts...)
		for _, r := range w {
			if unicode.IsPunct(r) && r != '\'' {
				out = append(out, string(r))
			}
		}
	}
	return out
}

// terms are a sentence's distinct content terms: lower-cased words, numbers marked "#",
// capitalised words (not at the sentence's start) also marked "^".
func terms(s string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for i, w := range strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != ','
	}) {
		w = strings.Trim(w, ".,")
		if w == "" {
			continue
		}
		r, _ := utf8.DecodeRuneInString(w)
		switch {
		case unicode.IsDigit(r):
			add("#" + strings.ReplaceAll(w, ",", ""))
		case unicode.IsUpper(r) && i > 0:
			add("^" + strings.ToLower(w))
		default:
			add(strings.ToLower(w))
		}
	}
	return out
}

// stop are English function words and small talk: they carry no fact.
var stop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then so of to in on at by for with from as is are was
		were be been being it its this that these those i you he she we they me him her us them my your his our their
		do does did have has had will would can could should may might must not no yes just also very really
		what which who whom whose when where why how there here about into over under than too up down out
		i'm it's don't i've you're that's let's am
		hi hello hey thanks thank please nice good great well today fine okay ok sure doing asking hear glad
		welcome bye`) {
		m[w] = true
	}
	return m
}()

// Clip cuts s to at most maxBytes bytes at a character boundary, marking the cut with " [...]":
// how a long message enters a summary prompt or a memory prompt, by its beginning.
func Clip(s string, maxBytes int) string {
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [...]"
}
