package grammar

import (
	"math"
	"strconv"
	"strings"
)

// Numbers are written in plain decimal notation: an optional '-', an integer part without
// leading zeros of at most maxIntDigits digits, and for type number an optional fraction of 1 to
// maxFracDigits digits. No exponent. Bounds are enforced exactly for integers; for numbers they
// are enforced on the value with bounds rounded inwards to integers (a bound 2.5 acts as 2 for a
// maximum, 3 for a minimum), which keeps every output valid.
const (
	maxIntDigits  = 15
	maxFracDigits = 15
	maxMagnitude  = 999_999_999_999_999 // 15 nines
)

// numberAny consumes any number in the canonical notation.
func (b *builder) numberAny(from int32) int32 {
	end, _ := b.numberRange(from, false, -maxMagnitude, false, maxMagnitude, false)
	return end
}

// numberRange consumes a number (integer: no fraction) in [lo, hi] (integers; loX/hiX make a
// bound exclusive). It returns false when no value fits.
func (b *builder) numberRange(from int32, integer bool, lo int64, loX bool, hi int64, hiX bool) (int32, bool) {
	if integer {
		if loX {
			lo, loX = lo+1, false
		}
		if hiX {
			hi, hiX = hi-1, false
		}
		if lo > hi {
			return -1, false
		}
	} else if lo > hi || (lo == hi && (loX || hiX)) {
		return -1, false
	}
	end := b.newNode()
	ok := false
	// Non-negative values: magnitude in [max(lo,0), hi].
	if hi >= 0 {
		mlo, mloX := lo, loX
		if lo < 0 {
			mlo, mloX = 0, false
		}
		if b.magnitude(from, end, integer, uint64(mlo), mloX, uint64(hi), hiX) {
			ok = true
		}
	}
	// Negative values: '-' then magnitude in [max(-hi, 0), -lo] (lo's exclusiveness bounds the
	// magnitude from above, hi's from below). Integers skip "-0".
	if lo < 0 {
		mlo, mloX := int64(0), false
		if hi < 0 {
			mlo, mloX = -hi, hiX
		}
		if mlo == 0 && (integer || (hi == 0 && hiX)) {
			mlo, mloX = 1, false // "-0" (and "-0.0") is zero, not negative
		}
		minus := b.newNode()
		if b.magnitude(minus, end, integer, uint64(mlo), mloX, uint64(-lo), loX) {
			b.edge(from, '-', '-', minus)
			ok = true
		}
	}
	return end, ok
}

// magnitude consumes an unsigned number whose value is in [lo, hi] (exclusive flags as given):
// for integers the integer part in range; otherwise integer parts in [lo', hi-1] with any
// fraction, and hi itself without a fraction when hi is inclusive (lo' = lo, or lo+1 when lo is
// exclusive, a subset of the valid values that needs no fraction comparisons).
func (b *builder) magnitude(from, to int32, integer bool, lo uint64, loX bool, hi uint64, hiX bool) bool {
	if loX {
		lo++
	}
	if integer {
		if hiX {
			if hi == 0 {
				return false
			}
			hi--
		}
		if lo > hi {
			return false
		}
		b.intRange(from, to, lo, hi)
		return true
	}
	ok := false
	if hi > lo {
		// integer parts [lo, hi-1], any fraction
		mid := b.newNode()
		b.intRange(from, mid, lo, hi-1)
		b.eps(mid, to)
		dot := b.newNode()
		b.edge(mid, '.', '.', dot)
		prev := dot
		for i := 0; i < maxFracDigits; i++ {
			d := b.newNode()
			b.edge(prev, '0', '9', d)
			b.eps(d, to)
			prev = d
		}
		ok = true
	}
	if !hiX && hi >= lo {
		b.intRange(from, to, hi, hi)
		ok = true
	}
	return ok
}

// intRange consumes the decimal digits (no leading zeros) of an integer in [lo, hi].
func (b *builder) intRange(from, to int32, lo, hi uint64) {
	if lo > hi {
		return
	}
	ls, hs := strconv.FormatUint(lo, 10), strconv.FormatUint(hi, 10)
	for n := len(ls); n <= len(hs); n++ {
		a, z := lo, hi
		if n > len(ls) {
			a = pow10(n - 1)
		}
		if n < len(hs) {
			z = pow10(n) - 1
		}
		as, zs := strconv.FormatUint(a, 10), strconv.FormatUint(z, 10)
		b.digitsRange(from, to, as, zs)
	}
}

// digitsRange consumes digit strings of len(a) (== len(z)) between a and z lexicographically.
func (b *builder) digitsRange(from, to int32, a, z string) {
	if len(a) == 0 {
		b.eps(from, to)
		return
	}
	if a[0] == z[0] {
		n := b.newNode()
		b.edge(from, a[0], a[0], n)
		b.digitsRange(n, to, a[1:], z[1:])
		return
	}
	rest := len(a) - 1
	nines, zeros := strings.Repeat("9", rest), strings.Repeat("0", rest)
	if a[1:] == zeros && z[1:] == nines {
		n := b.newNode()
		b.edge(from, a[0], z[0], n)
		b.anyDigits(n, to, rest)
		return
	}
	lo, hi := a[0], z[0]
	if a[1:] != zeros {
		n := b.newNode()
		b.edge(from, a[0], a[0], n)
		b.digitsRange(n, to, a[1:], nines)
		lo++
	}
	if z[1:] != nines {
		n := b.newNode()
		b.edge(from, z[0], z[0], n)
		b.digitsRange(n, to, zeros, z[1:])
		hi--
	}
	if lo <= hi {
		n := b.newNode()
		b.edge(from, lo, hi, n)
		b.anyDigits(n, to, rest)
	}
}

func (b *builder) anyDigits(from, to int32, n int) {
	cur := from
	for i := 0; i < n; i++ {
		next := b.newNode()
		b.edge(cur, '0', '9', next)
		cur = next
	}
	b.eps(cur, to)
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// bounds turns a schema's numeric bounds into integer bounds for numberRange. For integers a
// fractional minimum rounds up and a fractional maximum down; for numbers the same rounding
// applies (see the package notes), and an exclusive bound stays exclusive only when it was an
// integer. It reports false when the bounds leave nothing.
func numericBounds(integer bool, min, max *float64, exMin, exMax *float64) (lo int64, loX bool, hi int64, hiX bool) {
	lo, hi = -maxMagnitude, maxMagnitude
	tighterLo := func(v float64, excl bool) {
		c := math.Ceil(v)
		x := excl && c == v
		if c > float64(maxMagnitude) {
			lo, loX = maxMagnitude+1, false
			return
		}
		if c < -float64(maxMagnitude) {
			return
		}
		ci := int64(c)
		if ci > lo || (ci == lo && x) {
			lo, loX = ci, x
		}
	}
	tighterHi := func(v float64, excl bool) {
		f := math.Floor(v)
		x := excl && f == v
		if f < -float64(maxMagnitude) {
			hi, hiX = -maxMagnitude-1, false
			return
		}
		if f > float64(maxMagnitude) {
			return
		}
		fi := int64(f)
		if fi < hi || (fi == hi && x) {
			hi, hiX = fi, x
		}
	}
	if min != nil {
		tighterLo(*min, false)
	}
	if exMin != nil {
		tighterLo(*exMin, true)
	}
	if max != nil {
		tighterHi(*max, false)
	}
	if exMax != nil {
		tighterHi(*exMax, true)
	}
	return lo, loX, hi, hiX
}
