package grade

import (
	"encoding/json"
	"strings"
	"testing"
)

// noX marks a case whose extracted answer is not checked.
const noX = "\x00"

type gradeCase struct {
	name     string
	task     string
	response string
	gold     string
	correct  bool
	// extracted is the wanted Extracted ("" for nil, noX for unchecked).
	extracted string
}

var gradeCases = []gradeCase{
	// ---- math: extraction ----
	{"boxed simple", "math", `So the result is \boxed{5}.`, "5", true, "5"},
	{"boxed nested frac", "math", `\boxed{\frac{1}{2}}`, `\frac12`, true, `\frac{1}{2}`},
	{"later boxed overrides", "math", `First \boxed{3}, but rechecking gives \boxed{4}.`, "4", true, "4"},
	{"earlier boxed not used", "math", `First \boxed{3}, but rechecking gives \boxed{4}.`, "3", false, "4"},
	{"fbox", "math", `\fbox{12}`, "12", true, "12"},
	{"boxed with space form", "math", `$\boxed 7$`, "7", true, "7"},
	{"empty boxed skipped", "math", `\boxed{9} then \boxed{}`, "9", true, "9"},
	{"answer is", "math", `Thus the answer is 42.`, "42", true, "42"},
	{"answer is with dollars", "math", `The answer is $\frac{3}{4}$.`, "0.75", true, `\frac{3}{4}`},
	{"final answer colon", "math", "Work...\nFinal answer: 17", "17", true, "17"},
	{"final answer is", "math", "The final answer is 2\\sqrt{3}.", `\sqrt{12}`, true, `2\sqrt{3}`},
	{"answer later phrase wins", "math", `The answer is 5. But wait, the answer is 6.`, "6", true, "6"},
	{"retraction after phrase", "math", `The answer is 5. But wait, it's 6`, "6", true, "6"},
	{"answer 5 not retracted", "math", `The answer is 5. We used 3 steps.`, "5", true, "5"},
	{"bold answer", "math", `**Answer:** **12**`, "12", true, "12"},
	{"decimal in answer phrase", "math", `The answer is 3.5.`, "3.5", true, "3.5"},
	{"last number", "math", `I computed 3 and then 8`, "8", true, "8"},
	{"last number negative", "math", `so x ends at -4`, "-4", true, "-4"},
	{"no number", "math", `I do not know.`, "5", false, ""},
	{"empty response", "math", ``, "5", false, ""},
	{"whitespace response", "math", "   \n ", "5", false, ""},
	{"boxed beats later answer-is", "math", `\boxed{2} and the answer is 3`, "2", true, "2"},
	// ---- math: equivalence ----
	{"frac vs decimal", "math", `\boxed{0.5}`, `\frac12`, true, "0.5"},
	{"dfrac", "math", `\boxed{\dfrac{1}{2}}`, `\frac{1}{2}`, true, noX},
	{"tfrac", "math", `\boxed{\tfrac{2}{4}}`, `\frac{1}{2}`, true, noX},
	{"sqrt3/2 forms", "math", `\boxed{\frac{1}{2}\sqrt{3}}`, `\frac{\sqrt{3}}{2}`, true, noX},
	{"2sqrt2 vs sqrt8", "math", `\boxed{2\sqrt{2}}`, `\sqrt{8}`, true, noX},
	{"sqrt2 shorthand", "math", `\boxed{\sqrt2}`, `\sqrt{2}`, true, noX},
	{"surd sum", "math", `\boxed{2\sqrt{2}+3}`, `3+2\sqrt{2}`, true, noX},
	{"surd sum wrong", "math", `\boxed{3+2\sqrt{3}}`, `3+2\sqrt{2}`, false, noX},
	{"rationalised", "math", `\boxed{\frac{1}{1+\sqrt{2}}}`, `\sqrt{2}-1`, true, noX},
	{"sqrt frac", "math", `\boxed{\sqrt{\frac{1}{2}}}`, `\frac{\sqrt2}{2}`, true, noX},
	{"pi multiple", "math", `\boxed{\frac{\pi}{3}}`, `\frac{1}{3}\pi`, true, noX},
	{"2pi", "math", `\boxed{2\pi}`, `2 \pi`, true, noX},
	{"pi wrong", "math", `\boxed{\pi}`, `2\pi`, false, noX},
	{"negative mixed frac", "math", `\boxed{-\frac{3}{4}}`, `-0.75`, true, noX},
	{"negative frac inside", "math", `\boxed{\frac{-3}{4}}`, `-\frac{3}{4}`, true, noX},
	{"frac shorthand mixed", "math", `\boxed{\frac1{2}}`, `0.5`, true, noX},
	{"units cm", "math", `\boxed{5 \text{ cm}}`, `5`, true, noX},
	{"units cm^2", "math", `\boxed{12\text{ cm}^2}`, `12`, true, noX},
	{"units dollars", "math", `The answer is 30 dollars.`, `30`, true, "30 dollars"},
	{"dollar sign", "math", `\boxed{\$5}`, `5`, true, noX},
	{"degrees circ", "math", `\boxed{30^\circ}`, `30`, true, noX},
	{"degrees braces", "math", `\boxed{30^{\circ}}`, `30`, true, noX},
	{"degrees word", "math", `\boxed{45 \text{ degrees}}`, `45`, true, noX},
	{"percent as number", "math", `\boxed{50\%}`, `50`, true, noX},
	{"percent is not decimal", "math", `\boxed{50\%}`, `0.5`, false, noX},
	{"x= assignment", "math", `\boxed{x=3}`, `3`, true, noX},
	{"a= assignment", "math", `\boxed{a = -2}`, `-2`, true, noX},
	{"thousands comma", "math", `\boxed{1,000}`, `1000`, true, noX},
	{"thousands braces", "math", `\boxed{1{,}000}`, `1000`, true, noX},
	{"trailing .0", "math", `\boxed{10.0}`, `10`, true, noX},
	{"trailing .00", "math", `\boxed{10.00}`, `10`, true, noX},
	{"left right", "math", `\boxed{\left(1, 2\right)}`, `(1,2)`, true, noX},
	{"spacing commands", "math", `\boxed{1\,000\!}`, `1000`, true, noX},
	{"tuple ordered", "math", `\boxed{(1, 2)}`, `(1,2)`, true, noX},
	{"tuple order matters", "math", `\boxed{(2, 1)}`, `(1,2)`, false, noX},
	{"tuple element equivalence", "math", `\boxed{(\frac12, \sqrt{4})}`, `(0.5,2)`, true, noX},
	{"interval same", "math", `\boxed{[0, 1)}`, `[0,1)`, true, noX},
	{"interval open vs closed", "math", `\boxed{[0, 1]}`, `[0,1)`, false, noX},
	{"interval infinity", "math", `\boxed{(-\infty, 3]}`, `(-\infty,3]`, true, noX},
	{"interval infinity bracket", "math", `\boxed{(-\infty, 3)}`, `(-\infty,3]`, false, noX},
	{"set order free", "math", `\boxed{\{2, 1\}}`, `\{1,2\}`, true, noX},
	{"set left right", "math", `\boxed{\left\{ 3, 1 \right\}}`, `\{1,3\}`, true, noX},
	{"set wrong", "math", `\boxed{\{1, 3\}}`, `\{1,2\}`, false, noX},
	{"set vs tuple", "math", `\boxed{\{1, 2\}}`, `(1,2)`, false, noX},
	{"list in order", "math", `\boxed{1, 2, 3}`, `1,2,3`, true, noX},
	{"list solutions any order", "math", `\boxed{-3, 2}`, `2,-3`, true, noX},
	{"list wrong length", "math", `\boxed{1, 2}`, `1,2,3`, false, noX},
	{"infinity", "math", `\boxed{\infty}`, `\infty`, true, noX},
	{"text answer", "math", `\boxed{\text{Monday}}`, `Monday`, true, noX},
	{"text answer case", "math", `The answer is monday.`, `\text{Monday}`, true, "monday"},
	{"text choice", "math", `\boxed{\text{(B)}}`, `\text{(B)}`, true, noX},
	{"text choice bare", "math", `\boxed{B}`, `\text{(B)}`, true, noX},
	{"text wrong", "math", `\boxed{\text{Tuesday}}`, `\text{Monday}`, false, noX},
	{"dollar delimited", "math", `Final answer: $\frac{7}{2}$`, `3.5`, true, `\frac{7}{2}`},
	{"power", "math", `\boxed{2^{10}}`, `1024`, true, noX},
	{"negative exponent", "math", `\boxed{2^{-2}}`, `\frac14`, true, noX},
	{"cube root numeric", "math", `\boxed{\sqrt[3]{8}}`, `2`, true, noX},
	{"e numeric", "math", `\boxed{e^2}`, `7.389056099`, true, noX},
	{"decimal approx not exact", "math", `\boxed{0.333333}`, `\frac13`, false, noX},
	{"variables expr", "math", `\boxed{(x+1)^2}`, `x^2+2x+1`, true, noX},
	{"variables expr wrong", "math", `\boxed{(x+1)^2}`, `x^2+1`, false, noX},
	{"cdot", "math", `\boxed{3 \cdot 4}`, `12`, true, noX},
	{"wrong number", "math", `\boxed{7}`, `8`, false, "7"},
	{"frac wrong", "math", `\boxed{\frac{2}{3}}`, `\frac{3}{2}`, false, noX},
	{"divide by zero", "math", `\boxed{\frac{1}{0}}`, `1`, false, noX},
	{"huge power", "math", `\boxed{9^9^9^9}`, `1`, false, noX},
	{"same huge power string", "math", `\boxed{9^{9^{9^9}}}`, `9^{9^{9^9}}`, true, noX},
	{"display math delims", "math", `\[\boxed{4}\]`, `4`, true, "4"},
	{"sqrt of square", "math", `\boxed{\sqrt{16}}`, `4`, true, noX},
	{"neg zero", "math", `\boxed{-0}`, `0`, true, noX},
	// ---- tree mode ----
	{"tree number", "math", `{"answer": 42, "steps": []}`, "42", true, "42"},
	{"tree string boxed", "math", ` {"answer": "so \\boxed{\\frac{1}{2}}"} `, "0.5", true, `\frac{1}{2}`},
	{"tree bare string", "math", `{"answer": "\\frac{\\sqrt{3}}{2}"}`, `\frac{1}{2}\sqrt{3}`, true, noX},
	{"tree text", "math", `{"answer": "Monday"}`, `\text{Monday}`, true, "Monday"},
	{"tree gsm8k", "gsm8k", `{"answer": "The answer is 1,200."}`, "1200", true, "1,200"},
	{"tree gpqa", "gpqa", `{"answer": "Answer: B"}`, "B", true, "B"},
	{"tree aime", "aime", `{"answer": "033"}`, "33", true, "033"},
	{"not tree: no answer field", "math", `{"result": 3}`, "3", true, "3"},
	{"not tree: invalid json", "math", `{answer: 3}`, "3", true, "3"},
	// ---- AIME ----
	{"aime leading zeros", "aime", `\boxed{033}`, "33", true, "033"},
	{"aime plain", "aime", `The answer is 204.`, "204", true, "204"},
	{"aime 1000 invalid", "aime", `\boxed{1000}`, "1000", false, "1000"},
	{"aime negative invalid", "aime", `\boxed{-5}`, "-5", false, "-5"},
	{"aime fraction invalid", "aime", `\boxed{\frac{1}{2}}`, "0", false, noX},
	{"aime wrong", "aime", `\boxed{34}`, "33", false, "34"},
	{"aime last number", "aime", `so we get 17 and finally 250`, "250", true, "250"},
	{"aime gold zeros", "aime", `\boxed{7}`, "007", true, "7"},
	{"aime 999", "aime", `\boxed{999}`, "999", true, "999"},
	{"aime 0", "aime", `\boxed{0}`, "0", true, "0"},
	{"aime no answer", "aime", `no idea`, "5", false, ""},
	// ---- GSM8K ----
	{"gsm8k hashes", "gsm8k", "She has 3+4=7 apples.\n#### 7", "7", true, "7"},
	{"gsm8k commas", "gsm8k", `The answer is 1,234.`, "1234", true, "1,234"},
	{"gsm8k gold commas", "gsm8k", `\boxed{1234}`, "1,234", true, "1234"},
	{"gsm8k dollars", "gsm8k", `She pays \$18 in total, so the answer is \$18.`, "18", true, noX},
	{"gsm8k last number", "gsm8k", `Total: 5 + 3 = 8`, "8", true, "8"},
	{"gsm8k decimal", "gsm8k", `\boxed{2.50}`, "2.5", true, "2.50"},
	{"gsm8k negative", "gsm8k", `The answer is -12.`, "-12", true, "-12"},
	{"gsm8k wrong", "gsm8k", `The answer is 13.`, "12", false, "13"},
	{"gsm8k units", "gsm8k", `The answer is 40 minutes.`, "40", true, "40 minutes"},
	{"gsm8k 10.0", "gsm8k", `#### 10.0`, "10", true, "10.0"},
	{"gsm8k no number", "gsm8k", `I can't solve this.`, "3", false, ""},
	{"gsm8k text answer", "gsm8k", `The answer is many.`, "3", false, "many"},
	// ---- arith ----
	{"arith negative", "arith", `Result: -17. So the answer is -17`, "-17", true, "-17"},
	{"arith decimal", "arith", `\boxed{-3.25}`, "-3.25", true, noX},
	{"arith frac equals decimal", "arith", `\boxed{\frac{13}{4}}`, "3.25", true, noX},
	{"arith last number", "arith", `(3 * 4) - 5 = 7`, "7", true, "7"},
	{"arith wrong", "arith", `\boxed{7.01}`, "7", false, noX},
	// ---- GPQA ----
	{"gpqa answer colon", "gpqa", "Reasoning...\nAnswer: C", "C", true, "C"},
	{"gpqa answer is paren", "gpqa", `Therefore, the answer is (C).`, "C", true, "C"},
	{"gpqa the answer is", "gpqa", `The answer is C`, "C", true, "C"},
	{"gpqa paren only", "gpqa", `I pick (B) here`, "B", true, "B"},
	{"gpqa bold", "gpqa", `Final choice: **D**`, "D", true, "D"},
	{"gpqa boxed", "gpqa", `\boxed{C}`, "C", true, "C"},
	{"gpqa boxed text", "gpqa", `$\boxed{\text{B}}$`, "B", true, "B"},
	{"gpqa line start", "gpqa", "After analysis:\nC) 42 kg is right", "C", true, "C"},
	{"gpqa option", "gpqa", `I would go with option B`, "B", true, "B"},
	{"gpqa choice", "gpqa", `My pick is choice D`, "D", true, "D"},
	{"gpqa last wins", "gpqa", `The answer is A. Hmm, no. The answer is B.`, "B", true, "B"},
	{"gpqa lowercase explicit", "gpqa", `answer: c`, "C", true, "C"},
	{"gpqa lowercase answer is", "gpqa", `so the answer is d.`, "D", true, "D"},
	{"gpqa article A", "gpqa", `A good answer is B.`, "B", true, "B"},
	{"gpqa article A only", "gpqa", `A careful look shows nothing.`, "A", false, ""},
	{"gpqa article lowercase a", "gpqa", `The answer is a tricky one; I pick (D)`, "D", true, "D"},
	{"gpqa strong beats later weak", "gpqa", `The answer is (C). Option (A) is wrong because it ignores spin.`, "C", true, "C"},
	{"gpqa bare letter", "gpqa", `B`, "B", true, "B"},
	{"gpqa letter line at end", "gpqa", "Some reasoning.\n\n**C**", "C", true, "C"},
	{"gpqa wrong", "gpqa", `Answer: A`, "B", false, "A"},
	{"gpqa correct option is", "gpqa", `The correct option is D.`, "D", true, "D"},
	{"gpqa answer is option", "gpqa", `The answer is option B.`, "B", true, "B"},
	{"gpqa bold answer", "gpqa", `**Answer: (A)**`, "A", true, "A"},
	{"gpqa no letter", "gpqa", `I am not sure about this.`, "A", false, ""},
	{"gpqa empty", "gpqa", ``, "A", false, ""},
	{"gpqa word not letter", "gpqa", `The answer is Bromine.`, "B", false, ""},
	{"gpqa gold paren", "gpqa", `Answer: B`, "(B)", true, "B"},
	// ---- more phrasings ----
	{"minerva format", "math", `Final Answer: The final answer is $\frac{2}{3}$. I hope it is correct.`, `\frac23`, true, `\frac{2}{3}`},
	{"answer in \\( \\)", "math", `The answer is \(\sqrt{5}\).`, `\sqrt5`, true, `\sqrt{5}`},
	{"answer because", "math", `The answer is 12 because 3 times 4 is 12.`, `12`, true, "12"},
	{"aime answer because", "aime", `The answer is 33 since the sum telescopes.`, `33`, true, "33"},
	{"gsm8k units word", "gsm8k", `The answer is 5 apples.`, `5`, true, "5 apples"},
	{"gsm8k two numbers", "gsm8k", `The answer is 5 apples and 3 pears.`, `5`, false, noX},
	{"latex dollars last number", "math", `So $x = 5$.`, `5`, true, "5"},
	{"gsm8k hashes beat earlier", "gsm8k", "The answer is 4.\n#### 5", "5", true, "5"},
	{"mixed number", "math", `\boxed{1\frac{1}{2}}`, `\frac32`, true, noX},
	{"negative mixed number", "math", `\boxed{-2\frac{1}{4}}`, `-\frac94`, true, noX},
	{"interval with x in", "math", `\boxed{x \in [0,1)}`, `[0,1)`, true, noX},
	{"scientific times", "math", `\boxed{2 \times 10^3}`, `2000`, true, noX},
	{"money with cents", "math", `\boxed{\$1,000.00}`, `1000`, true, noX},
	{"square units", "math", `\boxed{4 \text{ square units}}`, `4`, true, noX},
	{"commutative symbols", "math", `\boxed{\pi r^2}`, `r^2\pi`, true, noX},
	// ---- unknown task ----
	{"unknown task", "chess", `\boxed{5}`, "5", false, ""},
}

func TestGrade(t *testing.T) {
	if len(gradeCases) < 120 {
		t.Fatalf("only %d cases", len(gradeCases))
	}
	for _, c := range gradeCases {
		t.Run(c.name, func(t *testing.T) {
			r := Grade(c.task, c.response, c.gold)
			if r.Correct != c.correct {
				x := "<nil>"
				if r.Extracted != nil {
					x = *r.Extracted
				}
				t.Errorf("Grade(%q, %q, %q).Correct = %v, want %v (extracted %q, method %q, note %q)",
					c.task, c.response, c.gold, r.Correct, c.correct, x, r.Method, r.Note)
			}
			if r.Gold != c.gold {
				t.Errorf("Gold = %q, want %q", r.Gold, c.gold)
			}
			switch {
			case c.extracted == noX:
			case c.extracted == "":
				if r.Extracted != nil {
					t.Errorf("Extracted = %q, want nil", *r.Extracted)
				}
			default:
				if r.Extracted == nil || *r.Extracted != c.extracted {
					got := "<nil>"
					if r.Extracted != nil {
						got = *r.Extracted
					}
					t.Errorf("Extracted = %q, want %q", got, c.extracted)
				}
			}
		})
	}
}

func TestUnknownTaskNote(t *testing.T) {
	r := Grade("chess", "5", "5")
	if r.Correct || r.Note == "" || r.Extracted != nil {
		t.Fatalf("unknown task: %+v", r)
	}
}

func TestExtractMethods(t *testing.T) {
	cases := []struct {
		task, response, answer, method string
		ok                             bool
	}{
		{"math", `\boxed{5}`, "5", MethodBoxed, true},
		{"math", `The answer is 5.`, "5", MethodAnswerIs, true},
		{"math", `Answer: 5`, "5", MethodAnswerIs, true},
		{"math", `Final answer: 5`, "5", MethodFinalAnswer, true},
		{"math", `The final answer is $5$.`, "5", MethodFinalAnswer, true},
		{"gsm8k", "blah\n#### 5", "5", MethodFinalAnswer, true},
		{"math", `we get 2 then 5`, "5", MethodLastNumber, true},
		{"math", `The answer is 5. Wait, actually 6`, "6", MethodLastNumber, true},
		{"gpqa", `Answer: B`, "B", MethodLetter, true},
		{"math", `{"answer": "\\boxed{5}"}`, "5", MethodTree, true},
		{"math", `{"answer": 5}`, "5", MethodTree, true},
		{"aime", `{"answer": "7"}`, "7", MethodTree, true},
		{"math", `nothing here`, "", "", false},
		{"gpqa", `nothing here`, "", MethodLetter, false},
		{"chess", `\boxed{5}`, "", "", false},
	}
	for _, c := range cases {
		a, m, ok := Extract(c.task, c.response)
		if a != c.answer || m != c.method || ok != c.ok {
			t.Errorf("Extract(%q, %q) = %q, %q, %v; want %q, %q, %v", c.task, c.response, a, m, ok, c.answer, c.method, c.ok)
		}
	}
}

func TestMathEqual(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{`\frac12`, `0.5`, true},
		{`\frac{\sqrt{3}}{2}`, `\frac{1}{2}\sqrt{3}`, true},
		{`2\sqrt{2}`, `\sqrt{8}`, true},
		{`\sqrt{2}/2`, `\frac{1}{\sqrt{2}}`, true},
		{`3+2\sqrt{2}`, `(1+\sqrt{2})^2`, true},
		{`\frac{\pi}{3}`, `60\pi/180`, true},
		{`1,000`, `1000`, true},
		{`10.0`, `10`, true},
		{`x = 3`, `3`, true},
		{`(1,2)`, `(2,1)`, false},
		{`\{1,2\}`, `\{2,1\}`, true},
		{`[0,1)`, `[0,1]`, false},
		{`\$5`, `5`, true},
		{`5`, `6`, false},
		{``, `5`, false},
		{`\frac{1}{0}`, `\frac{1}{0}`, true}, // same string
		{`\frac{1}{0}`, `1`, false},
	}
	for _, c := range cases {
		if got := MathEqual(c.a, c.b); got != c.want {
			t.Errorf("MathEqual(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestResultJSON(t *testing.T) {
	b, _ := json.Marshal(Grade("math", "no answer", "5"))
	if !strings.Contains(string(b), `"extracted":null`) || !strings.Contains(string(b), `"correct":false`) {
		t.Fatalf("JSON %s", b)
	}
	b, _ = json.Marshal(Grade("math", `\boxed{5}`, "5"))
	if !strings.Contains(string(b), `"extracted":"5"`) || !strings.Contains(string(b), `"correct":true`) {
		t.Fatalf("JSON %s", b)
	}
}

func TestHostileInputs(t *testing.T) {
	big := strings.Repeat("1 2 3 \\boxed{ ( [ x^9^ ", 1<<20/24)
	deep := `\boxed{` + strings.Repeat("{", 100000) + "1" + strings.Repeat("}", 100000) + "}"
	deepParen := `\boxed{` + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "}"
	deepSmall := `\boxed{` + strings.Repeat("(", 400) + "1" + strings.Repeat(")", 400) + "}"
	inputs := []string{
		big,
		strings.Repeat("a", 1<<20),
		strings.Repeat("9", 1<<20),
		strings.Repeat(`\boxed{`, 100000),
		deep, deepParen, deepSmall,
		`\boxed{9^9^9^9}`, `\boxed{9^{9^{9^{9}}}}`, `\boxed{\frac{1}{0}}`, `\boxed{0^{-1}}`,
		`\boxed{10^{10^{10}}}`, `\boxed{2^{64}^{64}}`, `\boxed{(1+\sqrt{2})^{1000}}`,
		`\boxed{\sqrt{99999999999999999999999999999999999}}`,
		`\boxed{` + strings.Repeat(`\sqrt{`, 5000) + "2" + strings.Repeat("}", 5000) + "}",
		`\boxed{` + strings.Repeat(`\frac{1}{`, 3000) + "2" + strings.Repeat("}", 3000) + "}",
		`\boxed{\{` + strings.Repeat("1,", 5000) + `1\}}`,
		`\boxed{(` + strings.Repeat("x+", 300) + `1)^{64}}`,
		`\boxed{` + strings.Repeat(`\sqrt{2}+\sqrt{3}+\sqrt{5}+\sqrt{7}+`, 20) + `1}^{64}`,
		`{"answer": "` + strings.Repeat("9", 100000) + `"}`,
		"Answer: " + strings.Repeat("(A) ", 200000),
	}
	golds := []string{"1", `9^9^9^9`, `\frac{1}{0}`, `\{1,2\}`, `(1+\sqrt{3})^{64}`}
	// Every call must return (a hang fails the test at its timeout; BenchmarkHostileInputs
	// measures how long they take) and none may panic.
	for i, in := range inputs {
		for _, task := range []string{"math", "aime", "gsm8k", "arith", "gpqa"} {
			for _, g := range golds {
				if r := Grade(task, in, g); r.Note == "grader error" {
					t.Errorf("input %d task %s: panic recovered", i, task)
				}
			}
		}
		MathEqual(in, in+"1")
	}
}

// BenchmarkHostileInputs: the slowest inputs of TestHostileInputs, graded as math.
func BenchmarkHostileInputs(b *testing.B) {
	inputs := []string{
		strings.Repeat("1 2 3 \\boxed{ ( [ x^9^ ", 1<<20/24),
		`\boxed{(1+\sqrt{2})^{1000}}`,
		`\boxed{` + strings.Repeat(`\sqrt{`, 5000) + "2" + strings.Repeat("}", 5000) + "}",
	}
	for b.Loop() {
		for _, in := range inputs {
			Grade("math", in, "1")
		}
	}
}
