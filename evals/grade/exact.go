package grade

import (
	"math/big"
)

// An exact value is a finite sum of terms c * sqrt(r) * pi^k with c rational, r a
// squarefree positive integer and k an integer. Square roots of distinct squarefree
// integers are linearly independent over the rationals and pi is transcendental, so two
// such sums are equal exactly when their terms are.
type basis struct {
	rad int64
	pi  int
}

type exact map[basis]*big.Rat

func ratValue(r *big.Rat) exact {
	if r.Sign() == 0 {
		return exact{}
	}
	return exact{{1, 0}: r}
}

// rational returns the value as a rational when it has no surd or pi part.
func (x exact) rational() (*big.Rat, bool) {
	if len(x) == 0 {
		return new(big.Rat), true
	}
	if len(x) == 1 {
		if c, ok := x[basis{1, 0}]; ok {
			return c, true
		}
	}
	return nil, false
}

func (x exact) equal(y exact) bool {
	if len(x) != len(y) {
		return false
	}
	for k, c := range x {
		d, ok := y[k]
		if !ok || c.Cmp(d) != 0 {
			return false
		}
	}
	return true
}

func checkSize(x exact) bool {
	if len(x) > maxTerms {
		return false
	}
	for _, c := range x {
		if c.Num().BitLen() > maxRatBits || c.Denom().BitLen() > maxRatBits {
			return false
		}
	}
	return true
}

func addTo(x exact, k basis, c *big.Rat) {
	if old, ok := x[k]; ok {
		s := new(big.Rat).Add(old, c)
		if s.Sign() == 0 {
			delete(x, k)
		} else {
			x[k] = s
		}
		return
	}
	if c.Sign() != 0 {
		x[k] = new(big.Rat).Set(c)
	}
}

func addExact(x, y exact, neg bool) exact {
	out := exact{}
	for k, c := range x {
		addTo(out, k, c)
	}
	for k, c := range y {
		if neg {
			c = new(big.Rat).Neg(c)
		}
		addTo(out, k, c)
	}
	return out
}

// squarefree splits n into s*s*r with r squarefree; ok false when n is too large to factor.
func squarefree(n int64, bud *budget) (s, r int64, ok bool) {
	if n <= 0 || n > maxRadicand {
		return 0, 0, false
	}
	s, r = 1, n
	for i := int64(2); i*i <= r; i++ {
		if i%1024 == 0 && !bud.ok() {
			return 0, 0, false
		}
		for r%(i*i) == 0 {
			r /= i * i
			s *= i
		}
	}
	return s, r, true
}

func mulExact(x, y exact, bud *budget) (exact, bool) {
	out := exact{}
	for kx, cx := range x {
		for ky, cy := range y {
			if !bud.ok() {
				return nil, false
			}
			if kx.rad > maxRadicand/ky.rad {
				return nil, false
			}
			s, r, ok := squarefree(kx.rad*ky.rad, bud)
			if !ok {
				return nil, false
			}
			c := new(big.Rat).Mul(cx, cy)
			c.Mul(c, new(big.Rat).SetInt64(s))
			addTo(out, basis{r, kx.pi + ky.pi}, c)
		}
	}
	return out, checkSize(out)
}

// invExact returns 1/x for a single term, or for a + b*sqrt(r) (by the conjugate).
func invExact(x exact, bud *budget) (exact, bool) {
	switch len(x) {
	case 1:
		for k, c := range x {
			// 1/(c sqrt(r) pi^k) = sqrt(r) / (c r) pi^-k
			d := new(big.Rat).Mul(c, new(big.Rat).SetInt64(k.rad))
			return exact{{k.rad, -k.pi}: d.Inv(d)}, true
		}
	case 2:
		var a, b *big.Rat
		var r int64
		for k, c := range x {
			switch {
			case k.pi != 0:
				return nil, false
			case k.rad == 1:
				a = c
			default:
				b, r = c, k.rad
			}
		}
		if a == nil || b == nil {
			return nil, false
		}
		// 1/(a + b sqrt r) = (a - b sqrt r) / (a^2 - b^2 r)
		den := new(big.Rat).Mul(a, a)
		b2r := new(big.Rat).Mul(b, b)
		b2r.Mul(b2r, new(big.Rat).SetInt64(r))
		den.Sub(den, b2r)
		if den.Sign() == 0 {
			return nil, false
		}
		den.Inv(den)
		out := exact{{1, 0}: new(big.Rat).Mul(a, den)}
		out[basis{r, 0}] = new(big.Rat).Neg(new(big.Rat).Mul(b, den))
		return out, checkSize(out)
	}
	return nil, false
}

// sqrtExact takes the square root of a non-negative rational times an even power of pi.
func sqrtExact(x exact, bud *budget) (exact, bool) {
	if len(x) == 0 {
		return exact{}, true
	}
	if len(x) != 1 {
		return nil, false
	}
	for k, c := range x {
		if k.rad != 1 || k.pi%2 != 0 || c.Sign() < 0 {
			return nil, false
		}
		// sqrt(p/q) = sqrt(p q) / q
		pq := new(big.Int).Mul(c.Num(), c.Denom())
		root := new(big.Int).Sqrt(pq)
		if new(big.Int).Mul(root, root).Cmp(pq) == 0 {
			return exact{{1, k.pi / 2}: new(big.Rat).SetFrac(root, c.Denom())}, true
		}
		if !pq.IsInt64() {
			return nil, false
		}
		s, r, ok := squarefree(pq.Int64(), bud)
		if !ok {
			return nil, false
		}
		return exact{{r, k.pi / 2}: new(big.Rat).SetFrac(big.NewInt(s), c.Denom())}, true
	}
	return nil, false
}

func powExact(x exact, e exact, bud *budget) (exact, bool) {
	q, ok := e.rational()
	if !ok {
		return nil, false
	}
	num, den := q.Num(), q.Denom()
	if !num.IsInt64() || !den.IsInt64() {
		return nil, false
	}
	n, d := num.Int64(), den.Int64()
	if d == 2 {
		r, ok := sqrtExact(x, bud)
		if !ok {
			return nil, false
		}
		x, d = r, 1
	}
	if d != 1 || n > maxIntPow || n < -maxIntPow {
		return nil, false
	}
	if n == 0 {
		if len(x) == 0 {
			return nil, false // 0^0
		}
		return ratValue(big.NewRat(1, 1)), true
	}
	if n < 0 {
		inv, ok := invExact(x, bud)
		if !ok {
			return nil, false
		}
		x, n = inv, -n
	}
	// guard the size before multiplying: bits grow linearly with the exponent
	for _, c := range x {
		if int64(c.Num().BitLen()+c.Denom().BitLen())*n > 2*maxRatBits {
			return nil, false
		}
	}
	out := ratValue(big.NewRat(1, 1))
	for i := int64(0); i < n; i++ {
		var ok bool
		if out, ok = mulExact(out, x, bud); !ok {
			return nil, false
		}
	}
	return out, true
}

func evalExact(n *node, bud *budget) (exact, bool) {
	if !bud.ok() {
		return nil, false
	}
	switch n.op {
	case 'n':
		if len(n.text) > 200 {
			return nil, false
		}
		r, ok := new(big.Rat).SetString(n.text)
		if !ok {
			return nil, false
		}
		return ratValue(r), true
	case 'c':
		if n.text == "pi" {
			return exact{{1, 1}: big.NewRat(1, 1)}, true
		}
		return nil, false
	case 'u':
		x, ok := evalExact(n.kids[0], bud)
		if !ok {
			return nil, false
		}
		return addExact(exact{}, x, true), true
	case 'f':
		if n.text != "sqrt" {
			return nil, false
		}
		x, ok := evalExact(n.kids[0], bud)
		if !ok {
			return nil, false
		}
		return sqrtExact(x, bud)
	case '+', '-', '*', '/', '^':
		x, ok := evalExact(n.kids[0], bud)
		if !ok {
			return nil, false
		}
		y, ok := evalExact(n.kids[1], bud)
		if !ok {
			return nil, false
		}
		switch n.op {
		case '+':
			r := addExact(x, y, false)
			return r, checkSize(r)
		case '-':
			r := addExact(x, y, true)
			return r, checkSize(r)
		case '*':
			return mulExact(x, y, bud)
		case '/':
			inv, ok := invExact(y, bud)
			if !ok {
				return nil, false
			}
			return mulExact(x, inv, bud)
		case '^':
			return powExact(x, y, bud)
		}
	}
	return nil, false
}
