package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/arborlabs/arbor/evals"
)

func mustLoad(t *testing.T, path, task string, f Fields) []evals.Problem {
	t.Helper()
	ps, err := Load(path, task, f)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return ps
}

func check(t *testing.T, got, want []evals.Problem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestAIMEJSONL(t *testing.T) {
	got := mustLoad(t, "testdata/aime.jsonl", evals.TaskAIME, Fields{})
	check(t, got, []evals.Problem{
		{ID: "1", Question: "Find the number of positive integers less than 100 that are divisible by 6 or by 9.", Answer: "22"},
		{ID: "2", Question: "A frog starts at 0 and jumps +3 or +5. What is the largest integer it cannot reach?", Answer: "7"},
		{ID: "3", Question: "Compute the remainder when 2^20 is divided by 1000.", Answer: "576"},
	})
}

func TestAIMECapsJSON(t *testing.T) {
	got := mustLoad(t, "testdata/aime_caps.json", evals.TaskAIME, Fields{})
	check(t, got, []evals.Problem{
		{ID: "2031-I-1", Question: "How many ordered pairs (a, b) of positive integers satisfy a + b = 12?", Answer: "11"},
		{ID: "2031-I-2", Question: "Find the sum of the digits of 7^4.", Answer: "19"},
		{ID: "2031-I-3", Question: "What is the smallest three-digit multiple of 17?", Answer: "102"},
	})
}

func TestMATHJSONL(t *testing.T) {
	got := mustLoad(t, "testdata/math.jsonl", evals.TaskMath, Fields{})
	if len(got) != 3 {
		t.Fatalf("got %d problems", len(got))
	}
	want := []struct{ id, answer, subject, level string }{
		{"test/prealgebra/901.json", "11", "Prealgebra", "1"},
		{"test/prealgebra/902.json", `\frac{1}{2}`, "Prealgebra", "2"}, // from the boxed solution
		{"test/algebra/903.json", "3", "Algebra", "Level 3"},
	}
	for i, w := range want {
		p := got[i]
		if p.ID != w.id || p.Answer != w.answer || p.Subject != w.subject || p.Level != w.level {
			t.Errorf("problem %d: got %+v, want %+v", i, p, w)
		}
		if !strings.Contains(p.Solution, `\boxed`) || p.Question == "" {
			t.Errorf("problem %d: solution or question lost: %+v", i, p)
		}
	}
}

func TestGSM8K(t *testing.T) {
	got := mustLoad(t, "testdata/gsm8k.jsonl", evals.TaskGSM8K, Fields{})
	check(t, got, []evals.Problem{
		{ID: "0", Question: "Tom reads 12 pages a day for 6 days. How many pages does he read?", Answer: "72",
			Solution: "He reads 12 * 6 = <<12*6=72>>72 pages."},
		{ID: "1", Question: "A shop sells 40 boxes of 30 nails each. How many nails is that?", Answer: "1200",
			Solution: "40 boxes hold 40 * 30 = <<40*30=1200>>1200 nails."},
	})
}

func TestGPQACSV(t *testing.T) {
	got := mustLoad(t, "testdata/gpqa.csv", evals.TaskGPQA, Fields{})
	check(t, got, []evals.Problem{
		{ID: "recA1", Question: "A ball of mass 2 kg moves at 3 m/s.\nWhat is its kinetic energy?", Answer: "9 J",
			Incorrect: []string{"6 J", "18 J", "3 J"}, Subject: "Physics"},
		{ID: "recB2", Question: "Which of these is a noble gas, at room temperature?", Answer: "Argon",
			Incorrect: []string{"Chlorine", "Sodium, metallic", "Sulfur"}, Subject: "Chemistry"},
	})
	// The options shuffle finds the answer among them.
	if _, letter := evals.Options(&got[0]); letter == "" {
		t.Error("no correct letter")
	}
}

func TestCustomFields(t *testing.T) {
	f, err := ParseFields("question=prompt, answer=target,id=uid,incorrect=wrong1|wrong2|wrong3,subject=topic")
	if err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t, "testdata/custom.jsonl", evals.TaskGPQA, f)
	check(t, got, []evals.Problem{
		{ID: "c-1", Question: "Which gas do plants mostly take in for photosynthesis?", Answer: "Carbon dioxide",
			Incorrect: []string{"Oxygen", "Nitrogen", "Helium"}, Subject: "Biology"},
		{ID: "c-2", Question: "Which planet is closest to the Sun?", Answer: "Mercury",
			Incorrect: []string{"Venus", "Mars", "Earth"}, Subject: "Astronomy"},
	})
	// Without the fields it names what it looked for and what it saw.
	_, err = Load("testdata/custom.jsonl", evals.TaskGPQA, Fields{})
	wantErr(t, err, "testdata/custom.jsonl", "line 1", "missing question", `"problem"`, `"prompt"`, `"target"`)
	// As a math task, Incorrect stays nil.
	got = mustLoad(t, "testdata/custom.jsonl", evals.TaskMath, f)
	if got[0].Incorrect != nil {
		t.Errorf("incorrect for a math task: %v", got[0].Incorrect)
	}
}

func TestParseFields(t *testing.T) {
	f, err := ParseFields("")
	if err != nil || !reflect.DeepEqual(f, Fields{}) {
		t.Errorf("empty: %+v %v", f, err)
	}
	f, err = ParseFields("id=Record ID,question=q,answer=a,solution=s,subject=sub,level=lv,incorrect=x")
	if err != nil {
		t.Fatal(err)
	}
	want := Fields{ID: "Record ID", Question: "q", Answer: "a", Solution: "s", Subject: "sub", Level: "lv", Incorrect: []string{"x"}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v, want %+v", f, want)
	}
	for spec, part := range map[string]string{
		"question":                 "not key=column",
		"prompt=question":          `unknown key "prompt"`,
		"answer=":                  "empty column name for answer",
		"answer=a,answer=b":        "answer given twice",
		"incorrect=a||c":           "empty column name in incorrect",
		"question=q,colour=yellow": "keys: id, question, answer",
	} {
		_, err := ParseFields(spec)
		wantErr(t, err, part)
	}
}

func TestErrors(t *testing.T) {
	load := func(format, task, text string) error {
		_, err := LoadReader(strings.NewReader(text), format, task, Fields{})
		return err
	}
	wantErr(t, load("jsonl", "aime", "{\"problem\":\"p\",\"answer\":1}\n\n{\"problem\": \"q\", \"answer\": }\n"),
		"line 3", "invalid JSON")
	wantErr(t, load("jsonl", "aime", "{\"problem\":\"p\",\"answer\":1}\n{\"problem\":\"q\",\"solution\":\"none\"}\n"),
		"line 2", "missing answer", `"answer"`, `columns: "problem", "solution"`)
	wantErr(t, load("jsonl", "aime", "{\"id\":7,\"problem\":\"p\",\"answer\":1}\n{\"id\":\"7\",\"problem\":\"q\",\"answer\":2}\n"),
		"line 2", `duplicate id "7"`, "first at line 1")
	wantErr(t, load("jsonl", "aime", "[1,2]\n"), "line 1", "not a JSON object")
	wantErr(t, load("jsonl", "nope", "{}"), "unknown task")
	wantErr(t, load("xml", "aime", "{}"), "unknown format")
	wantErr(t, load("jsonl", "aime", ""), "no records")
	wantErr(t, load("csv", "gpqa", "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2\nq,a,b,c\n"),
		"line 2", "exactly 3 incorrect options, found 2")
	wantErr(t, load("csv", "gpqa", "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\nq,a,b,a,c\n"),
		"line 2", `option "a" appears twice`)
	wantErr(t, load("csv", "aime", "problem,answer\n\"unclosed,1\n"), "invalid CSV")
	wantErr(t, load("json", "aime", `{"meta": 1}`), `no "data", "rows" or "examples" array`)
	wantErr(t, load("json", "aime", `[{"problem":"p","answer":1}, {"problem":"q"}]`), "element 1", "missing answer")
	wantErr(t, load("json", "aime", `[{"problem":"p","answer":1}, 3]`), "element 1", "not a JSON object")
	wantErr(t, load("jsonl", "aime", "{\"problem\":\" \",\"answer\":1}\n"), "line 1", `the question field (column "problem") is empty`)
	wantErr(t, load("jsonl", "aime", "{\"problem\":\"p\",\"answer\":null}\n"), "line 1", `the answer field (column "answer") is empty`)
	wantErr(t, load("csv", "gsm8k", "question,answer\nq,\n"), "line 2", `the answer field (column "answer") is empty`)
	wantErr(t, load("json", "aime", "[{\"problem\":\"p\",\"answer\":1}"), "invalid JSON")
	_, err := Load("testdata/custom.jsonl", "gpqa", Fields{Question: "prompt", Answer: "target", Level: "difficulty"})
	wantErr(t, err, "testdata/custom.jsonl", "line 1", `no column "difficulty" for the level field`)
	_, err = Load("testdata/none.yaml", "aime", Fields{})
	wantErr(t, err, "unknown format")
}

func TestJSONWrapped(t *testing.T) {
	for _, text := range []string{
		`{"meta": {"n": [1, 2]}, "data": [{"question": "q0", "expected_answer": 1.5}, {"question": "q1", "expected_answer": -2}]}`,
		`{"Rows": [{"row_idx": 0, "row": {"question": "q0", "answer": "1.5"}}, {"row_idx": 1, "row": {"question": "q1", "answer": "-2"}, "truncated_cells": []}]}`,
		`{"examples": [{"question": "q0", "answer": 1.50}, {"question": "q1", "answer": -2.0}], "extra": "x"}`,
	} {
		got, err := LoadReader(strings.NewReader(text), "json", evals.TaskMath, Fields{})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		check(t, got, []evals.Problem{{ID: "0", Question: "q0", Answer: "1.5"}, {ID: "1", Question: "q1", Answer: "-2"}})
	}
}

func TestBOMAndCRLF(t *testing.T) {
	for format, text := range map[string]string{
		"jsonl": "\ufeff{\"problem\":\"q\",\"answer\":5}\r\n",
		"json":  "\ufeff[{\"problem\":\"q\",\"answer\":5}]",
		"csv":   "\ufeffproblem,answer\r\nq,5\r\n",
	} {
		got, err := LoadReader(strings.NewReader(text), format, evals.TaskAIME, Fields{})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		check(t, got, []evals.Problem{{ID: "0", Question: "q", Answer: "5"}})
	}
}

func TestRecordLimit(t *testing.T) {
	old := maxRecordBytes
	maxRecordBytes = 1000
	defer func() { maxRecordBytes = old }()
	big := strings.Repeat("x", 300_000)
	small := `{"problem":"p","answer":1}` + "\n"
	_, err := LoadReader(strings.NewReader(small+`{"problem":"`+big+`","answer":1}`+"\n"), "jsonl", "aime", Fields{})
	wantErr(t, err, "line 2", "record longer than")
	_, err = LoadReader(strings.NewReader("problem,answer\np,1\n"+big+",2\n"), "csv", "aime", Fields{})
	wantErr(t, err, "record longer than")
	_, err = LoadReader(strings.NewReader(`[{"problem":"p","answer":1},{"problem":"`+big+`","answer":1}]`), "json", "aime", Fields{})
	wantErr(t, err, "element 1", "record longer than")
	// Many small records, well past the limit in total, are fine.
	var arr strings.Builder
	arr.WriteString("[")
	for i := range 5000 {
		if i > 0 {
			arr.WriteString(",")
		}
		arr.WriteString(`{"problem":"p","answer":` + itoa(i) + `}`)
	}
	arr.WriteString("]")
	if ps, err := LoadReader(strings.NewReader(arr.String()), "json", "aime", Fields{}); err != nil || len(ps) != 5000 {
		t.Fatalf("many small: %d %v", len(ps), err)
	}
	var csvText strings.Builder
	csvText.WriteString("problem,answer\n")
	for i := range 5000 {
		csvText.WriteString("p," + itoa(i) + "\n")
	}
	if ps, err := LoadReader(strings.NewReader(csvText.String()), "csv", "aime", Fields{}); err != nil || len(ps) != 5000 {
		t.Fatalf("many small csv: %d %v", len(ps), err)
	}
}

func itoa(i int) string { return toText(i) }

func TestLastBoxed(t *testing.T) {
	for s, want := range map[string]string{
		`so $\boxed{5}$`:                         "5",
		`\boxed{1} then \boxed{\frac{a}{b^{2}}}`: `\frac{a}{b^{2}}`,
		`\boxed {\{1, 2\}}`:                      `\{1, 2\}`,
		`\fbox{7}`:                               "7",
		`\boxed{3} and \boxed{unclosed`:          "3",
	} {
		got, ok := LastBoxed(s)
		if !ok || got != want {
			t.Errorf("LastBoxed(%q) = %q %v, want %q", s, got, ok, want)
		}
	}
	if _, ok := LastBoxed(`no box \boxed x`); ok {
		t.Error("found a box where there is none")
	}
}

func TestToText(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, ""}, {"s", "s"}, {int32(5), "5"}, {int64(-7), "-7"}, {float32(2.5), "2.5"},
		{float64(3), "3"}, {0.1, "0.1"}, {true, "true"}, {[]any{"x"}, "x"}, {[]any{"x", "y"}, `["x","y"]`},
	} {
		if got := toText(c.v); got != c.want {
			t.Errorf("toText(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
	for in, want := range map[string]string{"72": "72", "72.0": "72", "1e3": "1000", "0.25": "0.25", "-3.50": "-3.5"} {
		if got := numberText(in); got != want {
			t.Errorf("numberText(%s) = %s, want %s", in, got, want)
		}
	}
}

// Parquet files are written here with parquet-go's writer, so no binary fixture is committed.

type mathRow struct {
	UniqueID string  `parquet:"unique_id"`
	Problem  string  `parquet:"problem"`
	Solution string  `parquet:"solution"`
	Answer   *string `parquet:"answer,optional"`
	Subject  string  `parquet:"subject"`
	Level    int64   `parquet:"level"`
	Score    float64 `parquet:"score"`
}

type gpqaRow struct {
	RecordID  string   `parquet:"Record ID"`
	Question  string   `parquet:"Question"`
	Correct   string   `parquet:"Correct Answer"`
	Incorrect []string `parquet:"incorrect_answers,list"`
	Domain    *string  `parquet:"High-level domain,optional"`
	Year      int32    `parquet:"year"`
}

type aimeRow struct {
	ID      int32   `parquet:"ID"`
	Problem string  `parquet:"Problem"`
	Answer  float32 `parquet:"Answer"`
}

func writeParquet[T any](t *testing.T, name string, rows []T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func ptr(s string) *string { return &s }

func TestParquet(t *testing.T) {
	path := writeParquet(t, "math.parquet", []mathRow{
		{UniqueID: "u1", Problem: "What is 2+2?", Solution: `It is $\boxed{4}$.`, Answer: ptr("4"), Subject: "Arithmetic", Level: 1, Score: 0.5},
		{UniqueID: "u2", Problem: "Half of 1?", Solution: `$\boxed{\frac{1}{2}}$`, Answer: nil, Subject: "Arithmetic", Level: 2},
	})
	check(t, mustLoad(t, path, evals.TaskMath, Fields{}), []evals.Problem{
		{ID: "u1", Question: "What is 2+2?", Answer: "4", Solution: `It is $\boxed{4}$.`, Subject: "Arithmetic", Level: "1"},
		{ID: "u2", Question: "Half of 1?", Answer: `\frac{1}{2}`, Solution: `$\boxed{\frac{1}{2}}$`, Subject: "Arithmetic", Level: "2"},
	})

	path = writeParquet(t, "gpqa.parquet", []gpqaRow{
		{RecordID: "r1", Question: "Pick the prime.", Correct: "7", Incorrect: []string{"4", "6", "9"}, Domain: ptr("Math"), Year: 2030},
		{RecordID: "r2", Question: "Pick the even.", Correct: "8", Incorrect: []string{"3", "5", "7"}},
	})
	check(t, mustLoad(t, path, evals.TaskGPQA, Fields{}), []evals.Problem{
		{ID: "r1", Question: "Pick the prime.", Answer: "7", Incorrect: []string{"4", "6", "9"}, Subject: "Math"},
		{ID: "r2", Question: "Pick the even.", Answer: "8", Incorrect: []string{"3", "5", "7"}},
	})
	path = writeParquet(t, "gpqa2.parquet", []gpqaRow{{RecordID: "r1", Question: "q", Correct: "a", Incorrect: []string{"b", "c"}}})
	_, err := Load(path, evals.TaskGPQA, Fields{})
	wantErr(t, err, "row 0", "found 2")

	path = writeParquet(t, "aime.parquet", []aimeRow{{ID: 1, Problem: "p1", Answer: 33}, {ID: 2, Problem: "p2", Answer: 204}})
	check(t, mustLoad(t, path, evals.TaskAIME, Fields{}), []evals.Problem{
		{ID: "1", Question: "p1", Answer: "33"}, {ID: "2", Question: "p2", Answer: "204"},
	})
	// LoadReader reads Parquet from a stream too; explicit fields work on columns.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadReader(strings.NewReader(string(b)), "parquet", evals.TaskAIME, Fields{ID: "problem", Question: "ID"})
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []evals.Problem{{ID: "p1", Question: "1", Answer: "33"}, {ID: "p2", Question: "2", Answer: "204"}})

	path = writeParquet(t, "dup.parquet", []aimeRow{{ID: 1, Problem: "p1", Answer: 1}, {ID: 1, Problem: "p2", Answer: 2}})
	_, err = Load(path, evals.TaskAIME, Fields{})
	wantErr(t, err, "row 1", `duplicate id "1"`, "first at row 0")

	_, err = LoadReader(strings.NewReader("not parquet at all"), "parquet", evals.TaskAIME, Fields{})
	wantErr(t, err, "not a Parquet file")
}
