package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// FuzzPattern checks the hand-written pre-tokenizer matchers against regexp2 running the
// original regexes.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"", "Hello world", "it's I'LL 'Re 'x", "  a\n\n b \t\r\nc   ", "12345 1,234.5",
		"(hello) [x]!!\n\n", "日本語 テスト ١٢٣ ½", "a\u3000b\u00a0c", " 😀😀 x", "\r\n\r\n  ", "x  ", "'", " '", "''s",
		"\u2028\u0085\t\v\f", "a\u0301b", "\xff\xfe", "$1 #2 @x"} {
		f.Add(s)
	}
	type pair struct {
		name string
		hand matcher
		re   *regexMatcher
	}
	var pairs []pair
	for name, expr := range map[string]string{"gpt2": gpt2Pattern, "qwen2": qwen2Pattern, "llama3": llama3Pattern} {
		re, err := compileRegexp2(expr)
		if err != nil {
			f.Fatal(err)
		}
		pairs = append(pairs, pair{name, knownPattern(expr), re})
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = strings.ToValidUTF8(s, "\uFFFD") // Encode repairs its input before splitting
		for _, p := range pairs {
			got, want := p.hand.findAll(s, nil), p.re.findAll(s, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("%s on %q:\n hand   %v\n regexp %v", p.name, s, spansText(s, got), spansText(s, want))
			}
		}
	})
}

func spansText(s string, spans [][2]int) []string {
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = s[sp[0]:sp[1]]
	}
	return out
}

func TestPatternExamples(t *testing.T) {
	for _, c := range []struct {
		expr, in string
		want     []string
	}{
		{qwen2Pattern, "I'LL pay 1234 for it's\n\n  ok  ", []string{"I", "'LL", " pay", " ", "1", "2", "3",
			"4", " for", " it", "'s", "\n\n", " ", " ok", "  "}},
		{llama3Pattern, "x 1234567", []string{"x", " ", "123", "456", "7"}},
		{llama3Pattern, "(a) !!\r\n", []string{"(a", ")", " !!\r\n"}},
		{gpt2Pattern, "Don't  go 42x!", []string{"Don", "'t", " ", " go", " 42", "x", "!"}},
	} {
		got := spansText(c.in, knownPattern(c.expr).findAll(c.in, nil))
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPatternRandom compares the hand-written matchers with regexp2 on random strings drawn
// from characters that sit on the patterns' class boundaries; it reaches combinations the
// coverage-guided fuzzer is slow to find.
func TestPatternRandom(t *testing.T) {
	alphabet := []rune("aZé語ſK 1٣½\t\n\r\u3000\u00a0\u2028\u0085'sStTlLdDmMrReEvV.!(😀_\u0301-")
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, expr := range []string{gpt2Pattern, qwen2Pattern, llama3Pattern} {
		re, err := compileRegexp2(expr)
		if err != nil {
			t.Fatal(err)
		}
		hand := knownPattern(expr)
		for range n {
			rs := make([]rune, rng.IntN(12))
			for i := range rs {
				rs[i] = alphabet[rng.IntN(len(alphabet))]
			}
			s := string(rs)
			got, want := hand.findAll(s, nil), re.findAll(s, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("%q:\n hand   %q\n regexp %q", s, spansText(s, got), spansText(s, want))
			}
		}
	}
}
