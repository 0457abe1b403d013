package grade

import (
	"math/big"
	"regexp"
	"strings"

	"github.com/arborlabs/arbor/evals"
)

// Result is the grader's verdict on one response.
type Result struct {
	Correct   bool    `json:"correct"`
	Extracted *string `json:"extracted"` // nil: no answer found
	Gold      string  `json:"gold"`
	// Method is how the answer was found: "boxed", "answer-is", "final-answer",
	// "last-number", "letter", or "tree" (the answer field of a task-tree JSON response).
	Method string `json:"method,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Extract finds the answer in a response by the task's rules. ok is false when the
// response holds none.
func Extract(task, response string) (answer string, method string, ok bool) {
	if a, isTree := treeAnswer(response); isTree {
		a = strings.TrimSpace(a)
		if task != evals.TaskGPQA && evals.CheckTask(task) == nil {
			if b, ok := lastBoxed(a); ok {
				return b, MethodTree, true
			}
			if p, _, _, ok := lastPhrase(a); ok {
				return p, MethodTree, true
			}
			// a short bare field is the answer itself ("\frac{\sqrt3}{2}", "Monday")
			if a != "" && len(a) <= 200 && !strings.Contains(a, "\n") {
				return a, MethodTree, true
			}
		}
		answer, _, ok = extractTask(task, a)
		return answer, MethodTree, ok
	}
	return extractTask(task, response)
}

func extractTask(task, s string) (string, string, bool) {
	switch task {
	case evals.TaskGPQA:
		l, ok := extractLetter(s)
		return l, MethodLetter, ok
	case evals.TaskAIME, evals.TaskMath, evals.TaskGSM8K, evals.TaskArith:
		return extractMath(s)
	}
	return "", "", false
}

// Grade extracts the answer from response and compares it with gold by the task's rules.
// It never panics and finishes in bounded time whatever the input.
func Grade(task, response, gold string) (res Result) {
	res.Gold = gold
	defer func() {
		if r := recover(); r != nil { // a bug must cost one sample, never the run
			res.Correct = false
			res.Note = "grader error"
		}
	}()
	if err := evals.CheckTask(task); err != nil {
		res.Note = err.Error()
		return res
	}
	answer, method, ok := Extract(task, response)
	if !ok {
		res.Note = "no answer found"
		return res
	}
	res.Extracted, res.Method = &answer, method
	switch task {
	case evals.TaskGPQA:
		res.Correct = strings.EqualFold(answer, strings.TrimSpace(strings.Trim(gold, "() ")))
	case evals.TaskAIME:
		n, ok := aimeInt(answer)
		if !ok {
			res.Note = "not an integer 0-999"
			return res
		}
		g, ok := exactNumber(gold)
		res.Correct = ok && g.IsInt() && g.Num().Cmp(big.NewInt(n)) == 0
	case evals.TaskGSM8K, evals.TaskArith:
		g, ok := exactNumber(gold)
		if !ok {
			res.Note = "gold is not a number"
			return res
		}
		x, ok := loneNumber(answer)
		if !ok {
			res.Note = "answer is not a number"
			return res
		}
		res.Correct = x.Cmp(g) == 0
	case evals.TaskMath:
		res.Correct = MathEqual(answer, gold)
	}
	return res
}

// aimeInt reads an AIME answer: an integer 0-999, leading zeros allowed.
func aimeInt(s string) (int64, bool) {
	r, ok := loneNumber(s)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	n := r.Num().Int64()
	return n, n >= 0 && n <= 999
}

var reAnyNumber = regexp.MustCompile(`-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)`)

// loneNumber reads an answer as an exact number; failing that ("5 apples"), the one
// number it holds, if it holds exactly one.
func loneNumber(s string) (*big.Rat, bool) {
	if r, ok := exactNumber(s); ok {
		return r, true
	}
	if len(s) > 500 {
		return nil, false
	}
	nums := reAnyNumber.FindAllString(s, 3)
	if len(nums) != 1 {
		return nil, false
	}
	return exactNumber(nums[0])
}
