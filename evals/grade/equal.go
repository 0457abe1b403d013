package grade

import (
	"math/big"
	"strings"
)

// MathEqual reports whether two math answers (LaTeX or plain) are equivalent under the
// rules in the package comment. It runs under a time budget of about 100 ms.
func MathEqual(a, b string) bool {
	return mathEqual(a, b, newBudget(compareBudget), 0)
}

func mathEqual(a, b string, bud *budget, depth int) bool {
	if depth > 4 || !bud.ok() {
		return false
	}
	na, nb := normalize(a), normalize(b)
	if na == "" || nb == "" {
		return false
	}
	if canon(na) == canon(nb) {
		return true
	}
	if len(na) > maxNormLen || len(nb) > maxNormLen {
		return false
	}
	// sets: \{1, 2\}, order-free
	sa, oka := setElems(na)
	sb, okb := setElems(nb)
	if oka || okb {
		return oka && okb && unorderedEqual(sa, sb, bud, depth)
	}
	// tuples and intervals: brackets must match exactly, elements in order
	oa, ea, ca, oka := bracketed(na)
	ob, eb, cb, okb := bracketed(nb)
	if oka || okb {
		if !oka || !okb || oa != ob || ca != cb || len(ea) != len(eb) {
			return false
		}
		for i := range ea {
			if !mathEqual(ea[i], eb[i], bud, depth+1) {
				return false
			}
		}
		return true
	}
	// bare comma lists: elements in order, else as a set of solutions
	la, lb := splitTop(na), splitTop(nb)
	if len(la) > 1 || len(lb) > 1 {
		if len(la) != len(lb) || len(la) > maxElems {
			return false
		}
		ordered := true
		for i := range la {
			if !mathEqual(la[i], lb[i], bud, depth+1) {
				ordered = false
				break
			}
		}
		return ordered || unorderedEqual(la, lb, bud, depth)
	}
	return scalarEqual(na, nb, bud)
}

// setElems returns the elements of \{...\}.
func setElems(s string) ([]string, bool) {
	if !strings.HasPrefix(s, `\{`) || !strings.HasSuffix(s, `\}`) || len(s) < 4 {
		return nil, false
	}
	inner := s[2 : len(s)-2]
	if strings.TrimSpace(inner) == "" {
		return []string{}, true
	}
	return splitTop(inner), true
}

// bracketed splits "(a, b)" or "[a, b)" with at least two top-level elements.
func bracketed(s string) (open byte, elems []string, close byte, ok bool) {
	if len(s) < 2 {
		return 0, nil, 0, false
	}
	open, close = s[0], s[len(s)-1]
	if (open != '(' && open != '[') || (close != ')' && close != ']') {
		return 0, nil, 0, false
	}
	// the brackets must enclose the whole string: "(1)+(2)" is not a tuple
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 && i != len(s)-1 {
				return 0, nil, 0, false
			}
		}
	}
	elems = splitTop(s[1 : len(s)-1])
	if len(elems) < 2 {
		return 0, nil, 0, false
	}
	return open, elems, close, true
}

// splitTop splits s at commas outside brackets and braces.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func unorderedEqual(a, b []string, bud *budget, depth int) bool {
	if len(a) != len(b) || len(a) > maxElems {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !used[j] && mathEqual(x, y, bud, depth+1) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// evalAnswer parses a normalised answer as an expression.
func evalAnswer(s string, bud *budget) (*node, bool) {
	if len(s) > maxExprLen {
		return nil, false
	}
	e, ok := latexToExpr(s, 0)
	if !ok {
		return nil, false
	}
	n, err := parseExpr(e, bud)
	return n, err == nil
}

func scalarEqual(a, b string, bud *budget) bool {
	na, ok := evalAnswer(a, bud)
	if !ok {
		return false
	}
	nb, ok := evalAnswer(b, bud)
	if !ok {
		return false
	}
	xa, oka := evalExact(na, bud)
	xb, okb := evalExact(nb, bud)
	if oka && okb {
		return xa.equal(xb)
	}
	va, vb := map[string]bool{}, map[string]bool{}
	vars(na, va)
	vars(nb, vb)
	if len(va) != len(vb) || len(va) > 8 {
		return false
	}
	for v := range va {
		if !vb[v] {
			return false
		}
	}
	// numerically, at a few points for expressions in variables
	points, agreed := 1, 0
	if len(va) > 0 {
		points = 3
	}
	for p := 0; p < points; p++ {
		env := map[string]float64{}
		k := 0
		for v := range va {
			k++
			env[v] = 0.5 + 0.731*float64(p) + 0.1373*float64(k*k)
		}
		fa, ok1 := evalFloat(na, env, bud)
		fb, ok2 := evalFloat(nb, env, bud)
		if ok1 != ok2 {
			return false
		}
		if !ok1 {
			continue
		}
		if !floatClose(fa, fb) {
			return false
		}
		agreed++
	}
	return agreed > 0 && (points == 1 || agreed >= 2)
}

// exactNumber evaluates an answer to an exact rational (for GSM8K, arith and AIME).
func exactNumber(s string) (*big.Rat, bool) {
	bud := newBudget(compareBudget)
	n, ok := evalAnswer(normalize(s), bud)
	if !ok {
		return nil, false
	}
	x, ok := evalExact(n, bud)
	if !ok {
		return nil, false
	}
	return x.rational()
}
