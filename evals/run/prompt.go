package run

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/arborlabs/arbor/evals"
)

// The published templates the tasks default to. Math-style tasks ask for step-by-step
// reasoning and a \boxed{} answer (the template of DeepSeek-R1's and Qwen's math evaluations);
// GPQA gives the four options lettered A to D and asks for "Answer: LETTER" on the last line
// (the template of OpenAI's simple-evals). Arbor's own arith task asks the question alone, as
// a user would (and as its demo model was trained): the grader reads a task tree's answer, a
// \boxed{}, "the answer is" or the last number.
const (
	arithTemplate = "{{.Question}}"
	mathTemplate  = "{{.Question}}\n\nPlease reason step by step, and put your final answer within \\boxed{}."
	gpqaTemplate  = "Answer the following multiple choice question. The last line of your response should be of " +
		"the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by " +
		"step before answering.\n\n{{.Question}}\n\nA) {{.A}}\nB) {{.B}}\nC) {{.C}}\nD) {{.D}}"
)

// PromptData is what a prompt template sees: the problem's fields, and for GPQA its options in
// presented order (Options, and A to D).
type PromptData struct {
	ID, Question, Subject, Level string
	Options                      []string
	A, B, C, D                   string
}

// Prompter renders a task's prompts and knows each problem's gold answer as the grader wants
// it (GPQA: the letter of the correct option after the shuffle).
type Prompter struct {
	task string
	tmpl *template.Template
}

// NewPrompter uses the task's default template, or src (Go text/template syntax over
// PromptData) when not empty.
func NewPrompter(task, src string) (*Prompter, error) {
	if err := evals.CheckTask(task); err != nil {
		return nil, err
	}
	if src == "" {
		switch task {
		case evals.TaskGPQA:
			src = gpqaTemplate
		case evals.TaskArith:
			src = arithTemplate
		default:
			src = mathTemplate
		}
	}
	t, err := template.New("prompt").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("prompt template: %w", err)
	}
	return &Prompter{task: task, tmpl: t}, nil
}

// Prompt returns the user message for p and the gold answer to grade against.
func (pr *Prompter) Prompt(p *evals.Problem) (prompt, gold string, err error) {
	d := PromptData{ID: p.ID, Question: p.Question, Subject: p.Subject, Level: p.Level}
	gold = p.Answer
	if pr.task == evals.TaskGPQA {
		if len(p.Incorrect) != 3 {
			return "", "", fmt.Errorf("problem %s: GPQA needs three incorrect options, it has %d", p.ID, len(p.Incorrect))
		}
		d.Options, gold = evals.Options(p)
		d.A, d.B, d.C, d.D = d.Options[0], d.Options[1], d.Options[2], d.Options[3]
	}
	var b bytes.Buffer
	if err := pr.tmpl.Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("problem %s: prompt template: %w", p.ID, err)
	}
	return strings.TrimSpace(b.String()), gold, nil
}
