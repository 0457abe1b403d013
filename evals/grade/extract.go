package grade

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Extraction methods.
const (
	MethodBoxed       = "boxed"
	MethodAnswerIs    = "answer-is"
	MethodFinalAnswer = "final-answer"
	MethodLastNumber  = "last-number"
	MethodLetter      = "letter"
	MethodTree        = "tree"
)

// treeAnswer returns the top-level "answer" field of a JSON object response.
func treeAnswer(response string) (string, bool) {
	t := strings.TrimSpace(response)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return "", false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(t), &obj) != nil {
		return "", false
	}
	raw, ok := obj["answer"]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// lastBoxed returns the content of the last \boxed{...} or \fbox{...} (trying a few
// candidates from the end when one is unbalanced or empty).
func lastBoxed(s string) (string, bool) {
	end := len(s)
	for tries := 0; tries < 8 && end > 0; tries++ {
		i, cmd := -1, ""
		for _, c := range []string{`\boxed`, `\fbox`} {
			if j := strings.LastIndex(s[:end], c); j > i {
				i, cmd = j, c
			}
		}
		if i < 0 {
			return "", false
		}
		end = i
		j := i + len(cmd)
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == '{' {
			k := matchBrace(s, j)
			if k < 0 {
				continue
			}
			if in := strings.TrimSpace(s[j+1 : k-1]); in != "" {
				return in, true
			}
			continue
		}
		if j > i+len(cmd) { // "\boxed 5"
			k := j
			for k < len(s) && !strings.ContainsRune(" \t\n$", rune(s[k])) {
				k++
			}
			if k > j {
				return s[j:k], true
			}
		}
	}
	return "", false
}

var answerPhrases = []struct {
	phrase, method string
}{
	{"final answer is", MethodFinalAnswer},
	{"final answer:", MethodFinalAnswer},
	{"final answer", MethodFinalAnswer},
	{"####", MethodFinalAnswer},
	{"answer is", MethodAnswerIs},
	{"answer:", MethodAnswerIs},
}

var reClauseCut = regexp.MustCompile(`(?i)[\s,;]+(?:because|since|which|as|given|from|hence|thus|therefore|so that|as\s+it|i\s+think)\b`)

var reRetraction = regexp.MustCompile(`(?i)\b(?:wait|actually|correction|sorry|i mean|no,)\b`)

// afterPhrase takes the answer that follows an answer phrase: up to the end of the
// sentence or line, without a trailing period, markdown bold or $ delimiters.
func afterPhrase(s string) (answer string, rest string) {
	s = strings.TrimLeft(s, " \t:*=")
	// math delimited: $...$, \(...\), \[...\]
	for _, d := range [][2]string{{"$$", "$$"}, {"$", "$"}, {`\(`, `\)`}, {`\[`, `\]`}} {
		if strings.HasPrefix(s, d[0]) {
			if k := strings.Index(s[len(d[0]):], d[1]); k >= 0 {
				return s[len(d[0]) : len(d[0])+k], s[len(d[0])+k+len(d[1]):]
			}
		}
	}
	end := len(s)
	if k := strings.IndexByte(s, '\n'); k >= 0 {
		end = k
	}
	for k := 0; k < end; k++ {
		if s[k] == '.' && (k+1 == len(s) || s[k+1] == ' ' || s[k+1] == '\n') {
			end = k
			break
		}
	}
	if loc := reClauseCut.FindStringIndex(s[:end]); loc != nil && loc[0] > 0 {
		end = loc[0] // "33 because ...": the answer ends before the explanation
	}
	a := strings.TrimSpace(s[:end])
	a = strings.Trim(a, "*")
	a = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(a, "."), "$"))
	a = strings.TrimPrefix(a, "$")
	return strings.TrimSpace(trimUnbalanced(a)), s[end:]
}

// lastPhrase finds the answer after the last answer phrase.
func lastPhrase(s string) (answer, method, rest string, ok bool) {
	lower := strings.ToLower(s)
	bestEnd, bestLen := -1, 0 // the phrase ending last wins; on a tie the longest
	for _, p := range answerPhrases {
		i := strings.LastIndex(lower, p.phrase)
		if i < 0 {
			continue
		}
		if end := i + len(p.phrase); end > bestEnd || (end == bestEnd && len(p.phrase) > bestLen) {
			bestEnd, bestLen, method = end, len(p.phrase), p.method
		}
	}
	if bestEnd < 0 {
		return "", "", "", false
	}
	answer, rest = afterPhrase(s[bestEnd:])
	return answer, method, rest, answer != ""
}

var reNumber = regexp.MustCompile(`-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:\s*/\s*\d+)?$`)

// lastNumber returns the last number in s (integers, decimals, thousands commas, a/b).
func lastNumber(s string) (string, bool) {
	k := len(s) - 1
	for k >= 0 && !isDigit(s[k]) {
		k--
	}
	if k < 0 {
		return "", false
	}
	start := k - 64
	if start < 0 {
		start = 0
	}
	m := reNumber.FindString(s[start : k+1])
	if m == "" {
		return "", false
	}
	m = strings.Join(strings.Fields(m), "")
	return m, true
}

// extractMath applies the math rules: last \boxed, then answer phrases, then the last number.
func extractMath(s string) (string, string, bool) {
	if a, ok := lastBoxed(s); ok {
		return a, MethodBoxed, true
	}
	if a, m, rest, ok := lastPhrase(s); ok {
		// "the answer is 5. But wait, it's 6": a retraction after the phrase
		if loc := reRetraction.FindStringIndex(rest); loc != nil {
			if n, ok := lastNumber(rest[loc[1]:]); ok {
				return n, MethodLastNumber, true
			}
		}
		return a, m, true
	}
	if n, ok := lastNumber(s); ok {
		return n, MethodLastNumber, true
	}
	return "", "", false
}

// ---- GPQA letters ----

var (
	// strong: explicit answer phrasings and \boxed; lowercase letters allowed when followed
	// by punctuation or the end.
	reLetterStrong = []*regexp.Regexp{
		regexp.MustCompile(`(?i)answer\s*(?:is|should be|would be|must be|was|:|=)\s*:?\s*(?:option|choice|letter)?\s*[:\-]?[\s*_$({\[]*(?:\\text(?:bf)?\{\s*\(?)?([a-d])(\W|$)`),
		regexp.MustCompile(`(?i)(?:correct|right|best)\s+(?:option|choice)\s*(?:is|:)?\s*[\s*_({\[]*([a-d])(\W|$)`),
		regexp.MustCompile(`(?i)\\boxed\{\s*(?:\\text(?:bf)?\{\s*)?\(?([a-d])(\W|$)`),
	}
	// weak: bare mentions, used only when no strong one is present.
	reLetterWeak = []*regexp.Regexp{
		regexp.MustCompile(`\(([A-D])\)()`),
		regexp.MustCompile(`\*\*\(?([A-D])[).:]?\*\*()`),
		regexp.MustCompile(`(?m)^[ \t*]*([A-D])\)()`),
		regexp.MustCompile(`(?i)\b(?:option|choice)\s+\(?([a-d])(\W|$)`),
		regexp.MustCompile(`(?m)^[ \t*]*\(?([A-D])[).]?[ \t*]*$()`),
	}
)

// lastLetter returns the last match of the patterns in s: the letter and its position.
func lastLetter(s string, res []*regexp.Regexp) (string, int) {
	best, pos := "", -1
	for _, re := range res {
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			letter := s[m[2]:m[3]]
			if letter[0] >= 'a' && letter[0] <= 'd' {
				// lowercase only before punctuation or the end: "answer is a good one" is no answer
				if m[4] < len(s) && m[5] > m[4] && !strings.ContainsRune(".,;:)]}*!\n", rune(s[m[4]])) {
					continue
				}
			}
			if m[2] > pos {
				best, pos = strings.ToUpper(letter), m[2]
			}
		}
	}
	return best, pos
}

// extractLetter finds GPQA's chosen letter A-D.
func extractLetter(s string) (string, bool) {
	if len(s) > 64<<10 {
		s = s[len(s)-64<<10:] // the answer is at the end; keep the scan bounded
	}
	if l, p := lastLetter(s, reLetterStrong); p >= 0 {
		return l, true
	}
	if l, p := lastLetter(s, reLetterWeak); p >= 0 {
		return l, true
	}
	t := strings.ToUpper(strings.Trim(strings.TrimSpace(s), "*().$ "))
	if len(t) == 1 && t[0] >= 'A' && t[0] <= 'D' {
		return t, true
	}
	return "", false
}

// trimUnbalanced drops trailing closing brackets that nothing opened ("3}" of "{answer: 3}").
func trimUnbalanced(a string) string {
	for len(a) > 0 {
		c := a[len(a)-1]
		if c != '}' && c != ')' && c != ']' {
			return a
		}
		depth := 0
		for i := 0; i < len(a); i++ {
			switch a[i] {
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				depth--
			}
		}
		if depth >= 0 {
			return a
		}
		a = strings.TrimSpace(a[:len(a)-1])
	}
	return a
}
