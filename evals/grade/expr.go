package grade

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"time"
)

// Limits that keep every comparison bounded whatever the input.
const (
	maxExprLen    = 1000             // longest normalised answer that is parsed as an expression
	maxNormLen    = 4096             // longest extracted answer that is normalised at all
	maxDepth      = 60               // deepest nesting the LaTeX converter and parser accept
	maxRatBits    = 2048             // largest numerator or denominator an exact value may hold
	maxTerms      = 32               // most terms an exact surd sum may hold
	maxRadicand   = 1_000_000_000_00 // largest radicand factored (1e11: trial division to ~3.2e5)
	maxIntPow     = 64               // largest integer exponent computed exactly
	maxElems      = 64               // most elements of a tuple, set or list compared
	compareBudget = 100 * time.Millisecond
)

var errLimit = errors.New("grade: limit")

// budget is a time budget checked in the loops of a comparison.
type budget struct {
	deadline time.Time
	steps    int
	expired  bool
}

func newBudget(d time.Duration) *budget { return &budget{deadline: time.Now().Add(d)} }

// ok counts one step and reports whether the budget still holds.
func (b *budget) ok() bool {
	if b == nil {
		return true
	}
	b.steps++
	if b.steps%32 == 0 && time.Now().After(b.deadline) {
		b.expired = true
	}
	return !b.expired
}

// ---- expression AST ----

type node struct {
	op   byte // 'n' number, 'v' variable, 'c' constant (pi, e), 'f' function, '+', '-', '*', '/', '^', 'u' (negation)
	text string
	kids []*node
}

var funcNames = map[string]bool{"sqrt": true, "sin": true, "cos": true, "tan": true, "ln": true, "log": true, "exp": true}

type token struct {
	kind byte // 'n' number, 'i' identifier, 'o' operator
	text string
}

// tokenize splits a plain arithmetic expression (the output of latexToExpr).
func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			j := i
			dot := false
			for j < len(s) && (isDigit(s[j]) || (s[j] == '.' && !dot)) {
				if s[j] == '.' {
					dot = true
				}
				j++
			}
			toks = append(toks, token{'n', s[i:j]})
			i = j
		case isLetter(c):
			j := i
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			word := s[i:j]
			if funcNames[word] || word == "pi" {
				toks = append(toks, token{'i', word})
			} else {
				for k := 0; k < len(word); k++ { // "xy" is x*y
					toks = append(toks, token{'i', word[k : k+1]})
				}
			}
			i = j
		case strings.IndexByte("+-*/^()", c) >= 0:
			toks = append(toks, token{'o', string(c)})
			i++
		default:
			return nil, errLimit
		}
	}
	return toks, nil
}

type parser struct {
	toks  []token
	pos   int
	depth int
	bud   *budget
}

func parseExpr(s string, bud *budget) (*node, error) {
	if len(s) > maxExprLen {
		return nil, errLimit
	}
	toks, err := tokenize(s)
	if err != nil || len(toks) == 0 {
		return nil, errLimit
	}
	p := &parser{toks: toks, bud: bud}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, errLimit
	}
	return n, nil
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth || !p.bud.ok() {
		return errLimit
	}
	return nil
}

func (p *parser) expr() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind != 'o' || (t.text != "+" && t.text != "-") {
			return left, nil
		}
		p.pos++
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = &node{op: t.text[0], kids: []*node{left, right}}
	}
}

func (p *parser) term() (*node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		if !p.bud.ok() {
			return nil, errLimit
		}
		t, ok := p.peek()
		if !ok {
			return left, nil
		}
		op := byte('*')
		switch {
		case t.kind == 'o' && (t.text == "*" || t.text == "/"):
			op = t.text[0]
			p.pos++
		case t.kind == 'n' || t.kind == 'i' || (t.kind == 'o' && t.text == "("):
			// implicit multiplication: 2pi, 2sqrt(3), (1)(2)
		default:
			return left, nil
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &node{op: op, kids: []*node{left, right}}
	}
}

func (p *parser) unary() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t, ok := p.peek()
	if ok && t.kind == 'o' && (t.text == "-" || t.text == "+") {
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return n, nil
		}
		return &node{op: 'u', kids: []*node{n}}, nil
	}
	return p.power()
}

func (p *parser) power() (*node, error) {
	base, err := p.primary()
	if err != nil {
		return nil, err
	}
	t, ok := p.peek()
	if ok && t.kind == 'o' && t.text == "^" {
		p.pos++
		exp, err := p.unary() // right associative: 9^9^9 is 9^(9^9)
		if err != nil {
			return nil, err
		}
		return &node{op: '^', kids: []*node{base, exp}}, nil
	}
	return base, nil
}

func (p *parser) primary() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t, ok := p.peek()
	if !ok {
		return nil, errLimit
	}
	p.pos++
	switch {
	case t.kind == 'n':
		return &node{op: 'n', text: t.text}, nil
	case t.kind == 'i' && funcNames[t.text]:
		arg, err := p.power() // sqrt(2), sqrt 2, sin x
		if err != nil {
			return nil, err
		}
		return &node{op: 'f', text: t.text, kids: []*node{arg}}, nil
	case t.kind == 'i' && (t.text == "pi" || t.text == "e"):
		return &node{op: 'c', text: t.text}, nil
	case t.kind == 'i':
		return &node{op: 'v', text: t.text}, nil
	case t.kind == 'o' && t.text == "(":
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c, ok := p.peek(); !ok || c.text != ")" {
			return nil, errLimit
		}
		p.pos++
		return n, nil
	}
	return nil, errLimit
}

// vars collects the variable names of n.
func vars(n *node, into map[string]bool) {
	if n.op == 'v' {
		into[n.text] = true
	}
	for _, k := range n.kids {
		vars(k, into)
	}
}

// ---- numeric evaluation ----

func evalFloat(n *node, env map[string]float64, bud *budget) (float64, bool) {
	if !bud.ok() {
		return 0, false
	}
	var a, b float64
	if len(n.kids) > 0 {
		var ok bool
		if a, ok = evalFloat(n.kids[0], env, bud); !ok {
			return 0, false
		}
	}
	if len(n.kids) > 1 {
		var ok bool
		if b, ok = evalFloat(n.kids[1], env, bud); !ok {
			return 0, false
		}
	}
	var r float64
	switch n.op {
	case 'n':
		f, _, err := big.ParseFloat(n.text, 10, 64, big.ToNearestEven)
		if err != nil {
			return 0, false
		}
		r, _ = f.Float64()
	case 'v':
		v, ok := env[n.text]
		if !ok {
			return 0, false
		}
		r = v
	case 'c':
		r = math.Pi
		if n.text == "e" {
			r = math.E
		}
	case '+':
		r = a + b
	case '-':
		r = a - b
	case '*':
		r = a * b
	case '/':
		if b == 0 {
			return 0, false
		}
		r = a / b
	case '^':
		r = math.Pow(a, b)
	case 'u':
		r = -a
	case 'f':
		switch n.text {
		case "sqrt":
			r = math.Sqrt(a)
		case "sin":
			r = math.Sin(a)
		case "cos":
			r = math.Cos(a)
		case "tan":
			r = math.Tan(a)
		case "ln":
			r = math.Log(a)
		case "log":
			r = math.Log10(a)
		case "exp":
			r = math.Exp(a)
		}
	default:
		return 0, false
	}
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, false
	}
	return r, true
}

func floatClose(a, b float64) bool {
	d := math.Abs(a - b)
	if d <= 1e-12 {
		return true
	}
	return d <= 1e-6*math.Max(math.Abs(a), math.Abs(b))
}
