package grade

import (
	"regexp"
	"strings"
)

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// matchBrace returns the index just past the brace group opening at s[i] == '{', or -1.
// It counts depth iteratively, so deep nesting costs only linear time.
func matchBrace(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++ // skip the escaped character (\{ \})
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

var (
	reFracShort1  = regexp.MustCompile(`\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])`)
	reFracShort2  = regexp.MustCompile(`\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])`)
	reFracShort3  = regexp.MustCompile(`\\frac\s*([0-9a-zA-Z])\s*\{`)
	reSqrtShort   = regexp.MustCompile(`\\sqrt\s*([0-9a-zA-Z])`)
	reThousands   = regexp.MustCompile(`^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$`)
	reTrailZeros  = regexp.MustCompile(`^([-+]?\d+)\.0+$`)
	reAssign      = regexp.MustCompile(`^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]+\}?)?(?:\([a-zA-Z]\))?\s*(?:=|\\in)\s*`)
	reSpaces      = regexp.MustCompile(`\s+`)
	reUnitTail    = regexp.MustCompile(`(?i)^(.*[0-9}).])\s*(?:(?:square|sq\.?|cubic)\s+)?(?:units?|cm|centimet(?:er|re)s?|mm|millimet(?:er|re)s?|meters?|metres?|km|kilomet(?:er|re)s?|inch(?:es)?|ft|feet|foot|yards?|yd|miles?|mph|kph|km/h|m/s|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|dollars?|cents?|degrees?|deg|radians?|kg|kilograms?|grams?|lbs?|pounds?|ounces?|oz|lit(?:er|re)s?|ml|gallons?|percent|points?|people|persons?|students?|(?:\s[mshgl]))(?:\^\{?[23]\}?|²|³)?\.?\s*$`)
	reLetterParen = regexp.MustCompile(`^\(([a-z])\)$`)
	reMixed       = regexp.MustCompile(`^(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$`)
)

// unwrapText replaces \text{X} (and \textbf, \mathrm, ...) by X.
func unwrapText(s string) string {
	for _, cmd := range []string{`\text`, `\textbf`, `\textit`, `\textrm`, `\mathrm`, `\mathbf`, `\mathit`, `\mbox`, `\operatorname`, `\boldsymbol`} {
		for n := 0; n < 64; n++ {
			i := strings.Index(s, cmd+"{")
			if i < 0 {
				break
			}
			end := matchBrace(s, i+len(cmd))
			if end < 0 {
				break
			}
			s = s[:i] + s[i+len(cmd)+1:end-1] + s[end:]
		}
	}
	return s
}

var replacer = strings.NewReplacer(
	`\left`, "", `\right`, "", `\!`, "", `\,`, "", `\;`, "", `\:`, "", `\ `, " ", "~", " ",
	`\dfrac`, `\frac`, `\tfrac`, `\frac`, `\cfrac`, `\frac`, `\displaystyle`, "",
	`^{\circ}`, "", `^\circ`, "", `\circ`, "", "°", "", `\%`, "", "%", "",
	`\$`, "", "$", "", `{,}`, "", `\(`, "", `\)`, "", `\[`, "", `\]`, "",
	"−", "-", "×", `\times`, "·", `\cdot`, "∞", `\infty`, "π", `\pi`, "√", `\sqrt`,
	`\infinity`, `\infty`, `\dots`, "", `\ldots`, "", `\cdots`, "",
)

// normalize puts a math answer in a canonical LaTeX-ish form: delimiters, spacing
// commands, \text wrappers, units, percent and degree signs, thousands separators, a
// leading "x =" and a trailing period removed; \dfrac and shorthand like \frac12 rewritten.
func normalize(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxNormLen {
		return s
	}
	s = replacer.Replace(s)
	s = unwrapText(s)
	s = reFracShort1.ReplaceAllString(s, `\frac{$1}{$2}`)
	s = reFracShort2.ReplaceAllString(s, `\frac$1{$2}`)
	s = reFracShort3.ReplaceAllString(s, `\frac{$1}{`)
	s = reSqrtShort.ReplaceAllString(s, `\sqrt{$1}`)
	s = strings.TrimSpace(reSpaces.ReplaceAllString(s, " "))
	for range 3 {
		prev := s
		s = strings.TrimRight(s, ". ")
		s = strings.TrimPrefix(s, "=")
		s = strings.TrimSpace(s)
		if m := reUnitTail.FindStringSubmatch(s); m != nil {
			s = strings.TrimSpace(m[1])
		}
		if loc := reAssign.FindStringIndex(s); loc != nil && !strings.Contains(s[loc[1]:], "=") {
			s = s[loc[1]:]
		}
		if s == prev {
			break
		}
	}
	if reThousands.MatchString(s) {
		s = strings.ReplaceAll(s, ",", "")
	}
	if m := reTrailZeros.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	// a mixed number: 1\frac{1}{2} is 3/2
	s = reMixed.ReplaceAllString(s, `$1($2+\frac{$3}{$4})`)
	// a braced whole answer: {5} -> 5
	for len(s) > 1 && s[0] == '{' && matchBrace(s, 0) == len(s) {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return strings.TrimPrefix(s, "+")
}

// canon is the form compared as a string: no spaces, lower case, "(b)" as "b".
func canon(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), ""))
	if m := reLetterParen.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

// latexToExpr converts normalised LaTeX to the plain arithmetic parseExpr reads: \frac,
// \sqrt (and \sqrt[n]), \pi, \cdot, \times, braces. Any other command fails.
func latexToExpr(s string, depth int) (string, bool) {
	if depth > maxDepth || len(s) > maxExprLen {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			j := i + 1
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			cmd := s[i+1 : j]
			i = j
			switch cmd {
			case "":
				return "", false
			case "frac":
				num, i2, ok := latexArg(s, i, depth)
				if !ok {
					return "", false
				}
				den, i3, ok := latexArg(s, i2, depth)
				if !ok {
					return "", false
				}
				b.WriteString("((" + num + ")/(" + den + "))")
				i = i3
			case "sqrt":
				for i < len(s) && s[i] == ' ' {
					i++
				}
				index := ""
				if i < len(s) && s[i] == '[' {
					k := strings.IndexByte(s[i:], ']')
					if k < 0 {
						return "", false
					}
					var ok bool
					if index, ok = latexToExpr(s[i+1:i+k], depth+1); !ok {
						return "", false
					}
					i += k + 1
				}
				arg, i2, ok := latexArg(s, i, depth)
				if !ok {
					return "", false
				}
				if index != "" {
					b.WriteString("((" + arg + ")^(1/(" + index + ")))")
				} else {
					b.WriteString(" sqrt(" + arg + ")")
				}
				i = i2
			case "pi":
				b.WriteString(" pi ")
			case "cdot", "times", "ast":
				b.WriteString("*")
			case "div":
				b.WriteString("/")
			case "sin", "cos", "tan", "ln", "log", "exp":
				b.WriteString(" " + cmd + " ")
			default:
				return "", false
			}
		case c == '{':
			b.WriteByte('(')
			i++
		case c == '}':
			b.WriteByte(')')
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), true
}

// latexArg reads one macro argument at s[i:]: a brace group, a command, or one character.
func latexArg(s string, i, depth int) (string, int, bool) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) {
		return "", i, false
	}
	switch {
	case s[i] == '{':
		end := matchBrace(s, i)
		if end < 0 {
			return "", i, false
		}
		out, ok := latexToExpr(s[i+1:end-1], depth+1)
		return out, end, ok
	case s[i] == '\\':
		j := i + 1
		for j < len(s) && isLetter(s[j]) {
			j++
		}
		out, ok := latexToExpr(s[i:j], depth+1)
		return out, j, ok
	}
	return s[i : i+1], i + 1, true
}
