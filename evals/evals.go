package evals

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Task names.
const (
	TaskAIME  = "aime"
	TaskGPQA  = "gpqa"
	TaskMath  = "math" // MATH-500 and other \boxed{} math sets
	TaskGSM8K = "gsm8k"
	TaskArith = "arith" // the generated multi-step arithmetic word problems
)

// Tasks are the task names, in the order the help text lists them.
var Tasks = []string{TaskAIME, TaskGPQA, TaskMath, TaskGSM8K, TaskArith}

// CheckTask returns an error naming the known tasks if name is not one.
func CheckTask(name string) error {
	if slices.Contains(Tasks, name) {
		return nil
	}
	return fmt.Errorf("unknown task %q: want one of %v", name, Tasks)
}

// Problem is one benchmark item, whatever file it came from.
type Problem struct {
	// ID is unique within the set: the file's id field, or "<index>" when it has none.
	ID string `json:"id"`
	// Question is the problem's text as the file gives it (for GPQA, without the options).
	Question string `json:"question"`
	// Answer is the gold answer: a number or a LaTeX expression for the math tasks, an
	// integer for AIME and GSM8K (GSM8K's "#### N" already taken off), the correct option's
	// text for GPQA.
	Answer string `json:"answer"`
	// Incorrect are GPQA's three wrong options (nil for other tasks). The prompt shuffles
	// them with Answer by a seed derived from the question (see ShuffleSeed).
	Incorrect []string `json:"incorrect,omitempty"`
	// Solution is a worked solution where the file has one (MATH's "solution", GSM8K's
	// reasoning before "####"); never shown to the model.
	Solution string `json:"solution,omitempty"`
	// Subject and Level are for breakdowns (MATH's subject and level, GPQA's domain).
	Subject string `json:"subject,omitempty"`
	Level   string `json:"level,omitempty"`
}

// Record is one sample of one problem, as a run appends it to its results (JSONL, one per
// line): enough to grade it again (Response), to score it, and to report its cost.
type Record struct {
	Problem string `json:"problem"` // Problem.ID
	Sample  int    `json:"sample"`  // 0 to n-1
	Subject string `json:"subject,omitempty"`
	Level   string `json:"level,omitempty"`

	Gold string `json:"gold"` // what the grader compares with (GPQA: the correct letter)
	// Response is the model's final answer text (the content of its last message; in tree
	// mode the whole tree JSON); Reasoning its reasoning_content, if any.
	Response  string `json:"response"`
	Reasoning string `json:"reasoning,omitempty"`
	// Extracted is the answer the grader found (nil: none); Correct its verdict.
	Extracted *string `json:"extracted"`
	Correct   bool    `json:"correct"`
	// Error is set when the request failed for good (after retries): such a sample is counted
	// as an error, never graded as wrong.
	Error string `json:"error,omitempty"`

	FinishReason     string  `json:"finish_reason,omitempty"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	LatencyMS        float64 `json:"latency_ms"`
	// Turns is how many requests the sample took (more than one in the tool loop);
	// ToolCalls the tool calls the harness ran for it.
	Turns     int `json:"turns,omitempty"`
	ToolCalls int `json:"tool_calls,omitempty"`
	// Arbor's usage extras, where the server reports them.
	KVPeakTokens  *int     `json:"kv_peak_tokens,omitempty"`
	PrunedTokens  *int     `json:"pruned_tokens,omitempty"`
	TreeToolCalls *int     `json:"tree_tool_calls,omitempty"` // usage.tool_calls: run inside the decode
	AttendedShare *float64 `json:"attended_share,omitempty"`
	// TreeValid, in tree runs, says whether the response is a whole task tree of TIM's shape
	// (tree.CheckResponse).
	TreeValid      *bool  `json:"tree_valid,omitempty"`
	CompletedAtUTC string `json:"completed_at,omitempty"`
}

// Key identifies a record within a run.
func (r *Record) Key() string { return fmt.Sprintf("%s#%d", r.Problem, r.Sample) }

// ShuffleSeed is the seed GPQA's options are shuffled by: derived from the question alone, so
// that the same question is always presented (and its stored responses re-graded) with the
// same lettering, whatever run or machine.
func ShuffleSeed(question string) uint64 {
	sum := sha256.Sum256([]byte(question))
	return binary.LittleEndian.Uint64(sum[:8])
}

// Options returns a GPQA problem's four options in the order they are presented (A to D) and
// the letter of the correct one.
func Options(p *Problem) (options []string, correct string) {
	options = append([]string{p.Answer}, p.Incorrect...)
	r := rand.New(rand.NewPCG(ShuffleSeed(p.Question), 0x9e3779b97f4a7c15))
	r.Shuffle(len(options), func(i, j int) { options[i], options[j] = options[j], options[i] })
	for i, o := range options {
		if o == p.Answer {
			return options, string(rune('A' + i))
		}
	}
	return options, "" // unreachable: the answer is among them
}
