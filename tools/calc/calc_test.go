package calc

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/arborlabs/arbor/tools"
)

func TestEvaluate(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"1+2*3", "7"},
		{"(1+2)*3", "9"},
		{"  12  ", "12"},
		{"(((1)))", "1"},
		{"0.1+0.2", "3/10"},
		{"0.1+0.2-0.3", "0"},
		{"1/3+1/6", "1/2"},
		{"1/3*3", "1"},
		{"10/4", "5/2"},
		{"-6/4", "-3/2"},
		{"2^200", "1606938044258990275541962092341162602522202993782792835301376"},
		{"2^64-1", "18446744073709551615"},
		{"99999999999999999999 * 99999999999999999999", "9999999999999999999800000000000000000001"},
		{"2**10", "1024"},
		{"2^-2", "1/4"},
		{"-2^2", "-4"}, // unary minus binds looser than ^, as in mathematics and Python
		{"(-2)^3", "-8"},
		{"(-1)^1001", "-1"},
		{"1^123456789012", "1"},
		{"0^0", "1"},
		{"0^5", "0"},
		{"2^3^2", "512"}, // right-associative
		{"(2/3)^-2", "9/4"},
		{"2^-3^2", "1/512"},
		{"7 % 3", "1"},
		{"-7 % 3", "2"},  // sign of the divisor
		{"7 % -3", "-2"}, // sign of the divisor
		{"7.5 % 2", "3/2"},
		{"7 // 2", "3"},
		{"-7 // 2", "-4"},
		{"5!", "120"},
		{"0!", "1"},
		{"3!^2", "36"},
		{"-3!", "-6"},
		{"3!!", "720"},
		{"fact(20)", "2432902008176640000"},
		{"factorial(25)", "15511210043330985984000000"},
		{"abs(-3/4)", "3/4"},
		{"ABS(-1)", "1"},
		{"gcd(12, 18, 30)", "6"},
		{"gcd(-4, 6)", "2"},
		{"lcm(4, 6, 10)", "60"},
		{"lcm(0, 5)", "0"},
		{"min(3, 1/2, -1)", "-1"},
		{"max(3, 7/2)", "7/2"},
		{"floor(-2.5)", "-3"},
		{"ceil(-2.5)", "-2"},
		{"floor(7/2)", "3"},
		{"round(2.5)", "3"},
		{"round(-2.5)", "-3"},
		{"round(2.4999)", "2"},
		{"round(3.14159, 2)", "157/50"},
		{"round(1250, -2)", "1300"},
		{"sqrt(16/9)", "4/3"},
		{"sqrt(0)", "0"},
		{"comb(52, 5)", "2598960"},
		{"binomial(5, 7)", "0"},
		{"1e3", "1000"},
		{"2.5e-3", "1/400"},
		{"1E+2", "100"},
		{".5", "1/2"},
		{"1.50", "3/2"},
		{"007", "7"},
		{"3 × 4 ÷ 6 − 1", "1"},
		{"2·3", "6"},
		{"1 +\n 2", "3"},
	}
	for _, c := range cases {
		v, err := Evaluate(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if got := v.RatString(); got != c.want {
			t.Errorf("%q = %s, want %s", c.expr, got, c.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	cases := []struct {
		expr, msg string
		col       int // 0: no position
	}{
		{"1/0", "division by zero", 2},
		{"1 % 0", "division by zero", 3},
		{"1 // (2-2)", "division by zero", 3},
		{"0^-1", "division by zero", 2},
		{"(1+2", `expected ")" to close the "(" at column 1, found end of expression`, 5},
		{"1+", "unexpected end of expression", 3},
		{"2 3", "unexpected number 3", 3},
		{"2(3)", `unexpected "("`, 2},
		{")", `unexpected ")"`, 1},
		{"2^0.5", "exponent must be an integer", 2},
		{"9^9^9", "too large", 2},
		{"10^10000", "too large", 3},
		{"2^40000", "too large", 2},
		{"(1/3)^100000", "too large", 6},
		{"2001!", "factorial of more than 2000", 5},
		{"(-1)!", "non-negative integer", 5},
		{"(1/2)!", "non-negative integer", 6},
		{"foo(1)", `unknown function or name "foo"`, 1},
		{"pi", `unknown function or name "pi"`, 1},
		{"abs 3", `expected "(" after abs`, 5},
		{"abs(1 2)", `expected "," or ")" in abs(...), found number 2`, 7},
		{"round(1,2,3)", "round takes 1 or 2 argument(s), got 3", 1},
		{"comb(5)", "comb takes 2 argument(s), got 1", 1},
		{"gcd(1.5, 3)", "gcd needs integers, got 3/2", 1},
		{"sqrt(2)", "sqrt(2) is irrational (about 1.41421356237309504880168872421)", 0},
		{"sqrt(-4)", "sqrt of a negative number", 1},
		{"1e999999", "exponent", 1},
		{"1e-40000", "too large or too small", 1},
		{"1.2.3", "malformed number", 1},
		{"2e", "malformed exponent", 1},
		{"2x", "malformed number", 1},
		{"1 $ 2", `unexpected character '$'`, 3},
		{"1 × × 2", `unexpected "*"`, 5}, // columns count characters, not bytes
		{"", "empty expression", 0},
		{"   ", "empty expression", 0},
		{strings.Repeat("-", 200) + "1", "nested more than 100 deep", 101},
		{strings.Repeat("(", 150) + "1" + strings.Repeat(")", 150), "nested more than 100 deep", 101},
		{strings.Repeat("1+", 3000) + "1", "longer than 4096 bytes", 0},
	}
	for _, c := range cases {
		v, err := Evaluate(c.expr)
		name := c.expr
		if len(name) > 30 {
			name = name[:30] + "..."
		}
		if err == nil {
			t.Errorf("%q: no error, got %s", name, v.RatString())
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %T %v, want *Error", name, err, err)
			continue
		}
		if !strings.Contains(ce.Msg, c.msg) {
			t.Errorf("%q: message %q, want it to contain %q", name, ce.Msg, c.msg)
		}
		if c.col != 0 && ce.Column != c.col {
			t.Errorf("%q: column %d, want %d (%v)", name, ce.Column, c.col, err)
		}
	}
}

func TestEvaluateLimitsAreFast(t *testing.T) {
	// Each is refused (or computed) by estimate, not by doing the work the expression asks for.
	exprs := []string{"9^9^9^9", "2^(2^62)", "2000!", "comb(32768, 16384)", "10^9000 / 3^5000", "round(1/3, 10000)"}
	for _, e := range exprs {
		start := time.Now()
		_, _ = Evaluate(e)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%q took %v", e, d)
		}
	}
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func TestFormatDecimal(t *testing.T) {
	pow := func(b, e int64) *big.Rat {
		return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(b), big.NewInt(e), nil))
	}
	cases := []struct {
		x     *big.Rat
		sig   int
		want  string
		exact bool
	}{
		{rat("3/10"), 30, "0.3", true},
		{rat("0"), 30, "0", true},
		{rat("42"), 30, "42", true},
		{rat("-1/8"), 30, "-0.125", true},
		{rat("-5/2"), 30, "-2.5", true},
		{rat("1/3"), 30, "0.333333333333333333333333333333", false},
		{rat("2/3"), 30, "0.666666666666666666666666666667", false},
		{rat("-2/3"), 30, "-0.666666666666666666666666666667", false},
		{rat("2/3"), 3, "0.667", false},
		{rat("1/1024"), 30, "0.0009765625", true},
		{rat("123/10000000"), 30, "0.0000123", true},
		{rat("1/10000000"), 30, "0.0000001", true},
		{rat("1/100000000"), 30, "1e-8", true},
		{rat("-1/300000000"), 30, "-3.33333333333333333333333333333e-9", false},
		{pow(2, 200), 30, "1.60693804425899027554196209234e+60", false},
		{pow(10, 29), 30, "100000000000000000000000000000", true},
		{pow(10, 30), 30, "1e+30", true},
		{rat("1234.5"), 3, "1.23e+3", false},
		// rounds up into a new digit
		{rat("999.96"), 4, "1000", false},
		{new(big.Rat).Sub(big.NewRat(1, 1), new(big.Rat).Inv(pow(10, 31))), 30, "1", false}, // 0.999...9 (31 nines)
		// 0.125 to 1 digit: 0.1 (0.025 below the half)
		{rat("1/8"), 1, "0.1", false},
		// 0.15: a half, away from zero
		{rat("3/20"), 1, "0.2", false},
	}
	for _, c := range cases {
		got, exact := FormatDecimal(c.x, c.sig)
		if got != c.want || exact != c.exact {
			t.Errorf("FormatDecimal(%s, %d) = %q, %v; want %q, %v", c.x.RatString(), c.sig, got, exact, c.want, c.exact)
		}
	}
}

func TestCalculatorTool(t *testing.T) {
	calc := New()
	if calc.Name() != "calculator" || calc.Description() == "" {
		t.Fatalf("name %q, description %q", calc.Name(), calc.Description())
	}
	if k, _ := calc.(tools.CacheKeyer); k == nil || k.CacheKey() != "arbor:calculator" {
		t.Errorf("calculator has no shared cache key")
	}
	// The schema is what a grammar compiler sees: inline, closed, expression required.
	var schema map[string]any
	if err := json.Unmarshal(calc.Parameters(), &schema); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"$schema", "$id", "$ref", "$defs"} {
		if _, ok := schema[k]; ok {
			t.Errorf("schema has %s: %s", k, calc.Parameters())
		}
	}
	if schema["type"] != "object" || schema["additionalProperties"] != false {
		t.Errorf("schema not a closed object: %s", calc.Parameters())
	}
	if req, _ := schema["required"].([]any); len(req) != 1 || req[0] != "expression" {
		t.Errorf("required = %v", schema["required"])
	}
	prop, _ := schema["properties"].(map[string]any)["expression"].(map[string]any)
	if prop["type"] != "string" || !strings.Contains(prop["description"].(string), "Exact") &&
		!strings.Contains(prop["description"].(string), "exact") {
		t.Errorf("expression property = %v", prop)
	}

	set, err := tools.NewSet(calc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ args, want string }{
		{`{"expression":"0.1+0.2"}`, `{"result":"3/10","decimal":"0.3","exact":true}`},
		{`{"expression":"1/3"}`, `{"result":"1/3","decimal":"0.333333333333333333333333333333","exact":false}`},
		{`{"expression":"2^200"}`,
			`{"result":"1606938044258990275541962092341162602522202993782792835301376",` +
				`"decimal":"1.60693804425899027554196209234e+60","exact":false}`},
		{`{"expression":"6*7"}`, `{"result":"42","decimal":"42","exact":true}`},
		{`{"expression":"1/0"}`, `{"error":"tool \"calculator\": at column 2: division by zero"}`},
		{`{"expression":12}`,
			`{"error":"tool \"calculator\": invalid arguments: at /expression: got number, want string"}`},
		{`{"expr":"1"}`, ``}, // checked below: names both problems
	} {
		res := set.Call(ctx, "calculator", json.RawMessage(c.args))
		if c.want == "" {
			if res.Err == nil || !errors.Is(res.Err, tools.ErrInvalidArguments) ||
				!strings.Contains(string(res.JSON), "expression") || !strings.Contains(string(res.JSON), "expr") {
				t.Errorf("%s: %s (%v)", c.args, res.JSON, res.Err)
			}
			continue
		}
		if string(res.JSON) != c.want {
			t.Errorf("%s: got %s, want %s", c.args, res.JSON, c.want)
		}
	}
}
