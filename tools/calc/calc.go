// Package calc is the built-in exact calculator tool: arithmetic on math/big rationals, with
// every intermediate value bounded so that no expression costs the server much time or memory.
package calc

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/invopop/jsonschema"

	"github.com/arborlabs/arbor/tools"
)

// Limits of the calculator. Every intermediate value is checked, so that "9^9^9", "10000!" or
// "1e999999" are refused in microseconds instead of running the server out of time or memory.
const (
	calcMaxLen       = 4096    // bytes of expression
	calcMaxDepth     = 100     // nesting of parentheses, unary signs and function calls
	calcMaxBits      = 1 << 15 // of a numerator or denominator: about 9,860 decimal digits
	calcMaxFactorial = 2000    // 2000! has 5,736 digits
	calcMaxExp10     = 100000  // |e| in a literal such as 1e-5; the bit limit decides the rest
	calcDigits       = 30      // significant digits of "decimal"
	calcMaxRound     = calcMaxBits / 3
)

type calcArgs struct {
	Expression string `json:"expression"`
}

// expressionHelp describes the calculator's language to the model, in the parameters schema.
const expressionHelp = "Arithmetic expression, evaluated exactly with rationals. Operators: + - * / (exact " +
	"division), // (floor division), % (modulo, sign of the divisor), ^ or ** (integer " +
	"exponent), n! (factorial), parentheses. Decimal literals are exact (0.1+0.2 is 3/10); " +
	"1e6 and 2.5e-3 are allowed. Functions: abs, min, max, gcd, lcm, floor, ceil, round(x) or " +
	"round(x, digits), sqrt (exact squares only), fact or factorial, comb(n, k). Example: " +
	"(2^64 - 1) / 3 + 0.5"

// JSONSchemaExtend gives the expression its description (a struct tag would hold it all on one
// line) and its length limit, so that a grammar-constrained call cannot outgrow what Evaluate
// accepts.
func (calcArgs) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("expression"); ok {
		p.Description = expressionHelp
		maxLen := uint64(calcMaxLen)
		p.MaxLength = &maxLen
	}
}

// Result is the calculator's answer. Its Result field is exact: an integer or a reduced fraction
// ("-7/3"). Decimal is the value in decimal, rounded to 30 significant digits (scientific notation
// for very large or small values); Exact says whether Decimal equals Result.
type Result struct {
	Result  string `json:"result"`
	Decimal string `json:"decimal"`
	Exact   bool   `json:"exact"`
}

// New returns the built-in exact calculator, named "calculator". Language models are
// unreliable at arithmetic and floating point is unreliable at money and at large integers;
// math/big rationals are exact for everything the calculator accepts. Its results are shared
// across requests through a tools.Cache: the calculator is the same everywhere.
func New() tools.Tool {
	t, err := tools.Func("calculator",
		"Exact calculator for arithmetic on integers, fractions and decimals, with big numbers. "+
			"Returns the exact result (integer or fraction) and a decimal rendering.",
		func(_ context.Context, in calcArgs) (Result, error) {
			v, err := Evaluate(in.Expression)
			if err != nil {
				return Result{}, err
			}
			dec, exact := FormatDecimal(v, calcDigits)
			return Result{Result: v.RatString(), Decimal: dec, Exact: exact}, nil
		})
	if err != nil { // a fixed struct: only a broken build gets here
		panic(fmt.Sprintf("calc: calculator schema: %v", err))
	}
	return tools.WithCacheKey(t, "arbor:calculator")
}

// Error is a calculator error at a position of the expression.
type Error struct {
	Column int // 1-based, in characters
	Msg    string
}

func (e *Error) Error() string {
	if e.Column <= 0 {
		return e.Msg
	}
	return fmt.Sprintf("at column %d: %s", e.Column, e.Msg)
}

// Evaluate evaluates an arithmetic expression exactly (see New for the language).
func Evaluate(expr string) (*big.Rat, error) {
	if len(expr) > calcMaxLen {
		return nil, &Error{Msg: fmt.Sprintf("expression longer than %d bytes", calcMaxLen)}
	}
	if !utf8.ValidString(expr) {
		return nil, &Error{Msg: "expression is not valid UTF-8"}
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks}
	if p.peek().kind == tokEOF {
		return nil, &Error{Msg: "empty expression"}
	}
	v, err := p.sum()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, fmt.Sprintf("unexpected %s", t.describe()))
	}
	return v, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokNum
	tokIdent
	tokOp // + - * / // % ^ ** ! ( ) ,
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset
	num  *big.Rat
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokNum:
		return "number " + t.text
	case tokIdent:
		return "name " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits the expression into tokens. The Unicode operators models like to write (×, ÷, −) are
// read as their ASCII forms.
func lex(src string) ([]token, error) {
	var toks []token
	col := func(pos int) int { return utf8.RuneCountInString(src[:pos]) + 1 }
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i += size
		case isDigit(byte(r)) && r < utf8.RuneSelf, r == '.':
			t, n, err := lexNumber(src, i)
			if err != nil {
				return nil, &Error{Column: col(i), Msg: err.Error()}
			}
			toks = append(toks, t)
			i += n
		case r < utf8.RuneSelf && (isLetter(byte(r)) || r == '_'):
			j := i
			for j < len(src) && (isLetter(src[j]) || isDigit(src[j]) || src[j] == '_') {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: strings.ToLower(src[i:j]), pos: i})
			i = j
		default:
			op := ""
			switch r {
			case '*':
				op = "*"
				if strings.HasPrefix(src[i:], "**") {
					op = "**"
				}
			case '/':
				op = "/"
				if strings.HasPrefix(src[i:], "//") {
					op = "//"
				}
			case '+', '-', '%', '^', '!', '(', ')', ',':
				op = string(r)
			case '×', '·':
				op = "*"
			case '÷':
				op = "/"
			case '−': // U+2212 MINUS SIGN
				op = "-"
			}
			if op == "" {
				return nil, &Error{Column: col(i), Msg: fmt.Sprintf("unexpected character %q", r)}
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i})
			if op == "**" || op == "//" {
				i += 2
			} else {
				i += size
			}
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(src)}), nil
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// lexNumber reads digits[.digits][(e|E)[+-]digits] exactly: the digits form an integer mantissa
// and the point and exponent a power of ten, so 0.1 is 1/10 and never the nearest binary float.
func lexNumber(src string, start int) (token, int, error) {
	i := start
	var mant strings.Builder
	intDigits, fracDigits := 0, 0
	for i < len(src) && isDigit(src[i]) {
		mant.WriteByte(src[i])
		i++
		intDigits++
	}
	if i < len(src) && src[i] == '.' {
		i++
		for i < len(src) && isDigit(src[i]) {
			mant.WriteByte(src[i])
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return token{}, 0, fmt.Errorf("malformed number %q", src[start:i])
	}
	exp := 0
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		neg := false
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			neg = src[j] == '-'
			j++
		}
		if j >= len(src) || !isDigit(src[j]) {
			// "2e" is not a number, and implicit multiplication by a name is not supported; say
			// what was wrong with the literal.
			return token{}, 0, fmt.Errorf("malformed exponent in %q", src[start:j])
		}
		for j < len(src) && isDigit(src[j]) {
			exp = exp*10 + int(src[j]-'0')
			if exp > calcMaxExp10 {
				return token{}, 0, fmt.Errorf("exponent of %q is too large", src[start:j+1])
			}
			j++
		}
		if neg {
			exp = -exp
		}
		i = j
	}
	if i < len(src) && (src[i] == '.' || isLetter(src[i]) || src[i] == '_') {
		return token{}, 0, fmt.Errorf("malformed number %q", src[start:i+1])
	}
	m, _ := new(big.Int).SetString(mant.String(), 10)
	scale := exp - fracDigits
	if abs(scale) > calcMaxBits { // 10^scale alone would exceed the bit limit (10 > 2)
		return token{}, 0, fmt.Errorf("number %q is too large or too small", src[start:i])
	}
	v := new(big.Rat).SetInt(m)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale))), nil)
	if scale >= 0 {
		v.Mul(v, new(big.Rat).SetInt(p))
	} else {
		v.Quo(v, new(big.Rat).SetInt(p))
	}
	if tooBig(v) {
		return token{}, 0, fmt.Errorf("number %q is too large or too small", src[start:i])
	}
	return token{kind: tokNum, text: src[start:i], pos: start, num: v}, i - start, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func tooBig(v *big.Rat) bool {
	return v.Num().BitLen() > calcMaxBits || v.Denom().BitLen() > calcMaxBits
}

// parser evaluates while it parses (recursive descent); the grammar, loosest first:
//
//	sum     = product { ("+" | "-") product }
//	product = unary { ("*" | "/" | "//" | "%") unary }
//	unary   = ("-" | "+") unary | power
//	power   = postfix [ ("^" | "**") unary ]      right-associative; -2^2 is -4, 2^-1 is 1/2
//	postfix = primary { "!" }
//	primary = number | "(" sum ")" | name "(" sum { "," sum } ")"
type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tokOp && t.text == op
}

func (p *parser) errAt(t token, msg string) error {
	return &Error{Column: utf8.RuneCountInString(p.src[:t.pos]) + 1, Msg: msg}
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > calcMaxDepth {
		return p.errAt(t, fmt.Sprintf("nested more than %d deep", calcMaxDepth))
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// checked refuses a value over the size limit, at the operator that produced it.
func (p *parser) checked(t token, v *big.Rat) (*big.Rat, error) {
	if tooBig(v) {
		return nil, p.errAt(t, fmt.Sprintf("result of %s is too large (over %d bits)", t.describe(), calcMaxBits))
	}
	return v, nil
}

func (p *parser) sum() (*big.Rat, error) {
	v, err := p.product()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next()
		w, err := p.product()
		if err != nil {
			return nil, err
		}
		if op.text == "+" {
			v = new(big.Rat).Add(v, w)
		} else {
			v = new(big.Rat).Sub(v, w)
		}
		if v, err = p.checked(op, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *parser) product() (*big.Rat, error) {
	v, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		op := p.next()
		w, err := p.unary()
		if err != nil {
			return nil, err
		}
		switch op.text {
		case "*":
			v = new(big.Rat).Mul(v, w)
		default:
			if w.Sign() == 0 {
				return nil, p.errAt(op, "division by zero")
			}
			q := new(big.Rat).Quo(v, w)
			switch op.text {
			case "/":
				v = q
			case "//":
				v = new(big.Rat).SetInt(floor(q))
			case "%": // a - b*floor(a/b): the sign of the divisor, as in Python
				v = new(big.Rat).Sub(v, new(big.Rat).Mul(w, new(big.Rat).SetInt(floor(q))))
			}
		}
		if v, err = p.checked(op, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *parser) unary() (*big.Rat, error) {
	if p.isOp("-") || p.isOp("+") {
		op := p.next()
		if err := p.enter(op); err != nil {
			return nil, err
		}
		defer p.leave()
		v, err := p.unary()
		if err != nil {
			return nil, err
		}
		if op.text == "-" {
			v = new(big.Rat).Neg(v)
		}
		return v, nil
	}
	return p.power()
}

func (p *parser) power() (*big.Rat, error) {
	base, err := p.postfix()
	if err != nil {
		return nil, err
	}
	if !p.isOp("^") && !p.isOp("**") {
		return base, nil
	}
	op := p.next()
	if err := p.enter(op); err != nil {
		return nil, err
	}
	defer p.leave()
	exp, err := p.unary()
	if err != nil {
		return nil, err
	}
	return p.pow(op, base, exp)
}

// pow raises base to an integer exponent. The size of the result is estimated from the bit length
// of the base before anything is computed.
func (p *parser) pow(op token, base, exp *big.Rat) (*big.Rat, error) {
	if !exp.IsInt() {
		return nil, p.errAt(op, "exponent must be an integer (roots are not exact)")
	}
	e := exp.Num()
	if base.Sign() == 0 {
		switch e.Sign() {
		case -1:
			return nil, p.errAt(op, "division by zero (0 to a negative power)")
		case 0:
			return big.NewRat(1, 1), nil // 0^0 = 1, the usual convention in algebra and in Python
		}
		return new(big.Rat), nil
	}
	if base.IsInt() && base.Num().CmpAbs(big.NewInt(1)) == 0 { // ±1: any exponent, no size
		if base.Sign() < 0 && e.Bit(0) == 1 {
			return big.NewRat(-1, 1), nil
		}
		return big.NewRat(1, 1), nil
	}
	bits := max(base.Num().BitLen(), base.Denom().BitLen())
	// |base| >= 2 in numerator or denominator, so the result has at least |e|*(bits-1) bits.
	if !e.IsInt64() || abs64(e.Int64())*int64(bits-1) > calcMaxBits {
		return nil, p.errAt(op, fmt.Sprintf("result of %s is too large (over %d bits)", op.describe(), calcMaxBits))
	}
	n := abs64(e.Int64())
	num := new(big.Int).Exp(base.Num(), big.NewInt(n), nil)
	den := new(big.Int).Exp(base.Denom(), big.NewInt(n), nil)
	v := new(big.Rat).SetFrac(num, den)
	if e.Sign() < 0 {
		v.Inv(v)
	}
	return p.checked(op, v)
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func (p *parser) postfix() (*big.Rat, error) {
	v, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.isOp("!") {
		op := p.next()
		if v, err = p.factorial(op, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *parser) factorial(at token, v *big.Rat) (*big.Rat, error) {
	if !v.IsInt() || v.Sign() < 0 {
		return nil, p.errAt(at, "factorial needs a non-negative integer")
	}
	if v.Num().Cmp(big.NewInt(calcMaxFactorial)) > 0 {
		return nil, p.errAt(at, fmt.Sprintf("factorial of more than %d is too large", calcMaxFactorial))
	}
	n := v.Num().Int64()
	if n < 2 {
		return big.NewRat(1, 1), nil
	}
	return new(big.Rat).SetInt(new(big.Int).MulRange(2, n)), nil
}

func (p *parser) primary() (*big.Rat, error) {
	t := p.next()
	switch {
	case t.kind == tokNum:
		return t.num, nil
	case t.kind == tokOp && t.text == "(":
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		v, err := p.sum()
		if err != nil {
			return nil, err
		}
		if !p.isOp(")") {
			return nil, p.errAt(p.peek(), fmt.Sprintf("expected \")\" to close the \"(\" at column %d, found %s",
				utf8.RuneCountInString(p.src[:t.pos])+1, p.peek().describe()))
		}
		p.next()
		return v, nil
	case t.kind == tokIdent:
		return p.call(t)
	case t.kind == tokEOF:
		return nil, p.errAt(t, "unexpected end of expression")
	}
	return nil, p.errAt(t, fmt.Sprintf("unexpected %s", t.describe()))
}

// arity of each function: minimum and maximum argument counts (-1: no maximum).
var calcFuncs = map[string][2]int{
	"abs": {1, 1}, "floor": {1, 1}, "ceil": {1, 1}, "round": {1, 2}, "sqrt": {1, 1},
	"fact": {1, 1}, "factorial": {1, 1}, "comb": {2, 2}, "binomial": {2, 2},
	"min": {1, -1}, "max": {1, -1}, "gcd": {1, -1}, "lcm": {1, -1},
}

func (p *parser) call(name token) (*big.Rat, error) {
	arity, ok := calcFuncs[name.text]
	if !ok {
		return nil, p.errAt(name, fmt.Sprintf("unknown function or name %q (functions: abs, min, max, gcd, "+
			"lcm, floor, ceil, round, sqrt, fact, factorial, comb)", name.text))
	}
	if !p.isOp("(") {
		return nil, p.errAt(p.peek(), fmt.Sprintf("expected \"(\" after %s", name.text))
	}
	open := p.next()
	if err := p.enter(open); err != nil {
		return nil, err
	}
	defer p.leave()
	var xs []*big.Rat
	for {
		v, err := p.sum()
		if err != nil {
			return nil, err
		}
		xs = append(xs, v)
		if p.isOp(",") {
			p.next()
			continue
		}
		if p.isOp(")") {
			p.next()
			break
		}
		return nil, p.errAt(p.peek(), fmt.Sprintf("expected \",\" or \")\" in %s(...), found %s", name.text,
			p.peek().describe()))
	}
	if len(xs) < arity[0] || arity[1] >= 0 && len(xs) > arity[1] {
		want := fmt.Sprint(arity[0])
		switch {
		case arity[1] < 0:
			want = fmt.Sprintf("at least %d", arity[0])
		case arity[1] != arity[0]:
			want = fmt.Sprintf("%d or %d", arity[0], arity[1])
		}
		return nil, p.errAt(name, fmt.Sprintf("%s takes %s argument(s), got %d", name.text, want, len(xs)))
	}
	return p.apply(name, xs)
}

func (p *parser) apply(name token, xs []*big.Rat) (*big.Rat, error) {
	ints := func() ([]*big.Int, error) {
		out := make([]*big.Int, len(xs))
		for i, x := range xs {
			if !x.IsInt() {
				return nil, p.errAt(name, fmt.Sprintf("%s needs integers, got %s", name.text, x.RatString()))
			}
			out[i] = x.Num()
		}
		return out, nil
	}
	switch name.text {
	case "abs":
		return new(big.Rat).Abs(xs[0]), nil
	case "floor":
		return new(big.Rat).SetInt(floor(xs[0])), nil
	case "ceil":
		return new(big.Rat).SetInt(ceil(xs[0])), nil
	case "round":
		digits := int64(0)
		if len(xs) == 2 {
			if !xs[1].IsInt() || !xs[1].Num().IsInt64() || abs64(xs[1].Num().Int64()) > calcMaxRound {
				return nil, p.errAt(name, fmt.Sprintf("round's digits must be an integer between -%d and %d",
					calcMaxRound, calcMaxRound))
			}
			digits = xs[1].Num().Int64()
		}
		return p.checked(name, roundHalfAway(xs[0], digits))
	case "sqrt":
		return p.sqrt(name, xs[0])
	case "fact", "factorial":
		return p.factorial(name, xs[0])
	case "comb", "binomial":
		is, err := ints()
		if err != nil {
			return nil, err
		}
		n, k := is[0], is[1]
		if n.Sign() < 0 || k.Sign() < 0 {
			return nil, p.errAt(name, "comb needs non-negative integers")
		}
		if k.Cmp(n) > 0 {
			return new(big.Rat), nil
		}
		// C(n, k) < 2^n, so the bit limit on n bounds the result and the work.
		if n.Cmp(big.NewInt(calcMaxBits)) > 0 {
			return nil, p.errAt(name, fmt.Sprintf("comb with n over %d is too large", calcMaxBits))
		}
		return new(big.Rat).SetInt(new(big.Int).Binomial(n.Int64(), k.Int64())), nil
	case "min", "max":
		best := xs[0]
		for _, x := range xs[1:] {
			if c := x.Cmp(best); name.text == "min" && c < 0 || name.text == "max" && c > 0 {
				best = x
			}
		}
		return best, nil
	case "gcd", "lcm":
		is, err := ints()
		if err != nil {
			return nil, err
		}
		acc := new(big.Int).Abs(is[0])
		for _, x := range is[1:] {
			x = new(big.Int).Abs(x)
			if name.text == "gcd" {
				acc = new(big.Int).GCD(nil, nil, acc, x)
				continue
			}
			if acc.Sign() == 0 || x.Sign() == 0 {
				acc = new(big.Int) // lcm with 0 is 0, as in Python's math.lcm
				continue
			}
			g := new(big.Int).GCD(nil, nil, acc, x)
			acc = new(big.Int).Mul(new(big.Int).Quo(acc, g), x)
			if acc.BitLen() > calcMaxBits {
				return nil, p.errAt(name, fmt.Sprintf("result of lcm is too large (over %d bits)", calcMaxBits))
			}
		}
		return new(big.Rat).SetInt(acc), nil
	}
	return nil, p.errAt(name, fmt.Sprintf("unknown function %q", name.text))
}

// sqrt is exact or an error: an irrational root has no exact answer, and a rounded one dressed as
// exact would defeat the point of the tool.
func (p *parser) sqrt(at token, x *big.Rat) (*big.Rat, error) {
	if x.Sign() < 0 {
		return nil, p.errAt(at, "sqrt of a negative number")
	}
	n, d := new(big.Int).Sqrt(x.Num()), new(big.Int).Sqrt(x.Denom())
	if new(big.Int).Mul(n, n).Cmp(x.Num()) != 0 || new(big.Int).Mul(d, d).Cmp(x.Denom()) != 0 {
		// The approximation goes in the message: the model can still use it, knowing it is one.
		f := new(big.Float).SetPrec(256).SetRat(x)
		f.Sqrt(f)
		xs, _ := FormatDecimal(x, calcDigits)
		return nil, p.errAt(at, fmt.Sprintf("sqrt(%s) is irrational (about %s); only exact square roots are "+
			"supported", xs, f.Text('g', calcDigits)))
	}
	return new(big.Rat).SetFrac(n, d), nil
}

// floor rounds toward negative infinity (big.Int.Quo truncates toward zero).
func floor(x *big.Rat) *big.Int {
	q, r := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if r.Sign() < 0 {
		q.Sub(q, big.NewInt(1))
	}
	return q
}

func ceil(x *big.Rat) *big.Int {
	q, r := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// roundHalfAway rounds x to digits decimal places (negative: to tens, hundreds...), halves away
// from zero as people round by hand.
func roundHalfAway(x *big.Rat, digits int64) *big.Rat {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(digits)), nil))
	y := new(big.Rat).Set(x)
	if digits >= 0 {
		y.Mul(y, scale)
	} else {
		y.Quo(y, scale)
	}
	// |y| + 1/2, truncated, with x's sign.
	a := new(big.Rat).Abs(y)
	a.Add(a, big.NewRat(1, 2))
	n := new(big.Int).Quo(a.Num(), a.Denom())
	if y.Sign() < 0 {
		n.Neg(n)
	}
	r := new(big.Rat).SetInt(n)
	if digits >= 0 {
		return r.Quo(r, scale)
	}
	return r.Mul(r, scale)
}

// FormatDecimal renders x with at most sig significant digits, rounded half away from zero, and
// reports whether the rendering is exact. Trailing zeros are dropped. Values from 1e-7 up to
// 10^sig are written plainly ("0.3", "-12.5", "1000"); others in scientific notation
// ("1.60693804425899027554196209234e+60").
func FormatDecimal(x *big.Rat, sig int) (string, bool) {
	if sig < 1 {
		sig = 1
	}
	if x.Sign() == 0 {
		return "0", true
	}
	num := new(big.Int).Abs(x.Num())
	den := x.Denom()
	// e = floor(log10 |x|): estimated from bit lengths (log10 2 ~ 0.30103), then corrected.
	e := int(float64(num.BitLen()-den.BitLen()) * 0.30102999566398)
	for !geqPow10(num, den, e) {
		e--
	}
	for geqPow10(num, den, e+1) {
		e++
	}
	// q = round(|x| * 10^(sig-1-e)): sig digits.
	n, d := new(big.Int).Set(num), new(big.Int).Set(den)
	if shift := sig - 1 - e; shift >= 0 {
		n.Mul(n, pow10(shift))
	} else {
		d.Mul(d, pow10(-shift))
	}
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	exact := r.Sign() == 0
	if r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	digits := q.String()
	if len(digits) > sig { // 9.99... rounded up to 10.0...
		e++
		digits = digits[:sig]
	}
	digits = strings.TrimRight(digits, "0")
	var sb strings.Builder
	if x.Sign() < 0 {
		sb.WriteByte('-')
	}
	k := len(digits)
	switch {
	case e >= sig || e < -7:
		sb.WriteString(digits[:1])
		if k > 1 {
			sb.WriteByte('.')
			sb.WriteString(digits[1:])
		}
		fmt.Fprintf(&sb, "e%+d", e)
	case e >= k-1:
		sb.WriteString(digits)
		sb.WriteString(strings.Repeat("0", e-(k-1)))
	case e >= 0:
		sb.WriteString(digits[:e+1])
		sb.WriteByte('.')
		sb.WriteString(digits[e+1:])
	default:
		sb.WriteString("0.")
		sb.WriteString(strings.Repeat("0", -e-1))
		sb.WriteString(digits)
	}
	return sb.String(), exact
}

// geqPow10 reports num/den >= 10^e.
func geqPow10(num, den *big.Int, e int) bool {
	if e >= 0 {
		return num.Cmp(new(big.Int).Mul(den, pow10(e))) >= 0
	}
	return new(big.Int).Mul(num, pow10(-e)).Cmp(den) >= 0
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}
