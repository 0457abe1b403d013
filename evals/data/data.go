// Package data reads benchmark files as users have them (JSONL, JSON, CSV, Parquet) into
// []evals.Problem, finding the question, answer and other fields by their usual names (or by
// names given explicitly, see Fields and ParseFields).
//
// Auto-detected names, compared case-insensitively and with '_', '-' and ' ' alike:
//
//	ID         id, unique_id, problem_id, Record ID
//	Question   problem, question
//	Answer     answer, Correct Answer, expected_answer
//	Solution   solution
//	Subject    subject, type, High-level domain, domain
//	Level      level
//	Incorrect  Incorrect Answer 1, 2, 3 (GPQA's CSV), or an array in incorrect_answers/incorrect
//
// Task rules: for gsm8k an answer "reasoning ... #### 1,200" becomes Answer "1200" and Solution
// the reasoning; a record with no answer but a solution with \boxed{...} takes the last boxed
// content as its answer; gpqa needs exactly three incorrect options (Incorrect is only filled
// for gpqa). Values of any type become text (numbers in decimal, integers without ".0"). A
// record without an ID gets its 0-based index; duplicate IDs are an error.
package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/arborlabs/arbor/evals"
)

// maxRecordBytes bounds one record (a JSONL line, a CSV record, a JSON array element, a
// Parquet row's text). A variable so that tests can lower it.
var maxRecordBytes = 16 << 20

// Fields names the columns (CSV, Parquet) or keys (JSON) to read each field from; an empty
// name (nil Incorrect) means auto-detect. Names match exactly first, then case-insensitively.
type Fields struct {
	ID, Question, Answer, Solution, Subject, Level string
	// Incorrect are the columns of GPQA's wrong options (a single column may hold an array);
	// other tasks ignore them.
	Incorrect []string
}

// fieldKeys are the keys ParseFields accepts, in the order its errors list them.
var fieldKeys = []string{"id", "question", "answer", "solution", "subject", "level", "incorrect"}

// ParseFields parses a flag value like
// "question=prompt,answer=target,id=uid,incorrect=wrong1|wrong2|wrong3". Keys are id,
// question, answer, solution, subject, level and incorrect (its columns separated by '|'). An
// empty spec gives the zero Fields (auto-detect everything).
func ParseFields(spec string) (Fields, error) {
	var f Fields
	if strings.TrimSpace(spec) == "" {
		return f, nil
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if !ok {
			return Fields{}, fmt.Errorf("fields %q: %q is not key=column (keys: %s)", spec, part, strings.Join(fieldKeys, ", "))
		}
		if !slices.Contains(fieldKeys, key) {
			return Fields{}, fmt.Errorf("fields %q: unknown key %q (keys: %s)", spec, key, strings.Join(fieldKeys, ", "))
		}
		if seen[key] {
			return Fields{}, fmt.Errorf("fields %q: %s given twice", spec, key)
		}
		seen[key] = true
		if val == "" {
			return Fields{}, fmt.Errorf("fields %q: empty column name for %s", spec, key)
		}
		switch key {
		case "id":
			f.ID = val
		case "question":
			f.Question = val
		case "answer":
			f.Answer = val
		case "solution":
			f.Solution = val
		case "subject":
			f.Subject = val
		case "level":
			f.Level = val
		case "incorrect":
			for c := range strings.SplitSeq(val, "|") {
				c = strings.TrimSpace(c)
				if c == "" {
					return Fields{}, fmt.Errorf("fields %q: empty column name in incorrect=%s", spec, val)
				}
				f.Incorrect = append(f.Incorrect, c)
			}
		}
	}
	return f, nil
}

// Load reads the file at path; its format comes from the extension: .jsonl or .ndjson (one
// object a line), .json (an array of objects, or an object with a "data", "rows" or "examples"
// array), .csv (a header row), .parquet.
func Load(path, task string, f Fields) ([]evals.Problem, error) {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if _, ok := readers[format]; !ok && format != "parquet" {
		return nil, fmt.Errorf("data: %s: unknown format %q: want .jsonl, .ndjson, .json, .csv or .parquet", path, filepath.Ext(path))
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer file.Close()
	if format == "parquet" {
		st, err := file.Stat()
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		c, err := newConverter(path, task, f)
		if err != nil {
			return nil, err
		}
		if err := readParquet(file, st.Size(), c); err != nil {
			return nil, err
		}
		return c.done()
	}
	return load(file, format, task, f, path)
}

// LoadReader reads r in the given format ("jsonl", "ndjson", "json", "csv" or "parquet";
// Parquet is read into memory whole, the others are streamed).
func LoadReader(r io.Reader, format, task string, f Fields) ([]evals.Problem, error) {
	format = strings.TrimPrefix(strings.ToLower(format), ".")
	return load(r, format, task, f, "<"+format+" input>")
}

var readers = map[string]func(io.Reader, *converter) error{
	"jsonl":  readJSONL,
	"ndjson": readJSONL,
	"json":   readJSON,
	"csv":    readCSV,
}

func load(r io.Reader, format, task string, f Fields, name string) ([]evals.Problem, error) {
	c, err := newConverter(name, task, f)
	if err != nil {
		return nil, err
	}
	if format == "parquet" {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", name, err)
		}
		if err := readParquet(bytes.NewReader(b), int64(len(b)), c); err != nil {
			return nil, err
		}
		return c.done()
	}
	read, ok := readers[format]
	if !ok {
		return nil, fmt.Errorf("data: %s: unknown format %q: want jsonl, ndjson, json, csv or parquet", name, format)
	}
	if err := read(r, c); err != nil {
		return nil, err
	}
	return c.done()
}

// converter turns records into problems, checking IDs for duplicates.
type converter struct {
	name  string // the file, for errors
	task  string
	f     Fields
	out   []evals.Problem
	where map[string]string // ID -> where it was first seen
}

func newConverter(name, task string, f Fields) (*converter, error) {
	if err := evals.CheckTask(task); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	return &converter{name: name, task: task, f: f, where: map[string]string{}}, nil
}

func (c *converter) done() ([]evals.Problem, error) {
	if len(c.out) == 0 {
		return nil, fmt.Errorf("data: %s: no records", c.name)
	}
	return c.out, nil
}

func (c *converter) errorf(where, format string, args ...any) error {
	return fmt.Errorf("data: %s: %s: %s", c.name, where, fmt.Sprintf(format, args...))
}

// norm folds a column name for matching: lower case, '_' '-' and runs of spaces as one space.
func norm(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

var (
	autoID       = []string{"id", "unique_id", "problem_id", "record id"}
	autoQuestion = []string{"problem", "question"}
	autoAnswer   = []string{"answer", "correct answer", "expected_answer"}
	autoSolution = []string{"solution"}
	autoSubject  = []string{"subject", "type", "high-level domain", "domain"}
	autoLevel    = []string{"level"}
	autoWrongArr = []string{"incorrect_answers", "incorrect"}
)

// record is one row: its values by column name, and the names in a stable order.
type record struct {
	vals  map[string]any
	keys  []string
	index map[string]string // norm(key) -> key (first in keys order)
}

func newRecord(vals map[string]any, keys []string) *record {
	if keys == nil {
		keys = make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	r := &record{vals: vals, keys: keys, index: make(map[string]string, len(keys))}
	for _, k := range keys {
		if _, ok := r.index[norm(k)]; !ok {
			r.index[norm(k)] = k
		}
	}
	return r
}

func (r *record) columns() string {
	if len(r.keys) == 0 {
		return "none"
	}
	q := make([]string, len(r.keys))
	for i, k := range r.keys {
		q[i] = strconv.Quote(k)
	}
	return strings.Join(q, ", ")
}

// find returns the key for an explicit name (exact, then folded) or the first auto name found.
func (r *record) find(explicit string, auto []string) (string, bool) {
	if explicit != "" {
		if _, ok := r.vals[explicit]; ok {
			return explicit, true
		}
		k, ok := r.index[norm(explicit)]
		return k, ok
	}
	for _, a := range auto {
		if k, ok := r.index[norm(a)]; ok {
			return k, true
		}
	}
	return "", false
}

// text returns a field's value as text ("" when absent or null); an explicit name that is
// absent is an error.
func (c *converter) text(r *record, where, field, explicit string, auto []string) (string, error) {
	k, ok := r.find(explicit, auto)
	if !ok {
		if explicit != "" {
			return "", c.errorf(where, "no column %q for the %s field (columns: %s)", explicit, field, r.columns())
		}
		return "", nil
	}
	v := strings.TrimSpace(toText(r.vals[k]))
	if v == "" && field == "question" {
		return "", c.errorf(where, "the %s field (column %q) is empty", field, k)
	}
	return v, nil
}

func tried(explicit string, auto []string) string {
	if explicit != "" {
		return strconv.Quote(explicit)
	}
	q := make([]string, len(auto))
	for i, a := range auto {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, ", ")
}

// add converts one record (the index-th, found at where: "line 3", "row 0", ...).
func (c *converter) add(r *record, where string) error {
	index := len(c.out)
	var p evals.Problem
	var err error
	if p.ID, err = c.text(r, where, "id", c.f.ID, autoID); err != nil {
		return err
	}
	if p.Question, err = c.text(r, where, "question", c.f.Question, autoQuestion); err != nil {
		return err
	}
	if p.Answer, err = c.text(r, where, "answer", c.f.Answer, autoAnswer); err != nil {
		return err
	}
	if p.Solution, err = c.text(r, where, "solution", c.f.Solution, autoSolution); err != nil {
		return err
	}
	if p.Subject, err = c.text(r, where, "subject", c.f.Subject, autoSubject); err != nil {
		return err
	}
	if p.Level, err = c.text(r, where, "level", c.f.Level, autoLevel); err != nil {
		return err
	}
	if p.Question == "" {
		return c.errorf(where, "missing question field (looked for %s; columns: %s; name it with question=<column>)", tried(c.f.Question, autoQuestion), r.columns())
	}
	if c.task == evals.TaskGSM8K {
		if i := strings.LastIndex(p.Answer, "####"); i >= 0 {
			if p.Solution == "" {
				p.Solution = strings.TrimSpace(p.Answer[:i])
			}
			p.Answer = strings.ReplaceAll(strings.TrimSpace(p.Answer[i+4:]), ",", "")
		}
	}
	if p.Answer == "" && p.Solution != "" {
		if b, ok := LastBoxed(p.Solution); ok {
			p.Answer = strings.TrimSpace(b)
		}
	}
	if k, ok := r.find(c.f.Answer, autoAnswer); ok && p.Answer == "" {
		return c.errorf(where, "the answer field (column %q) is empty, and no solution with a \\boxed{} to take it from", k)
	}
	if p.Answer == "" {
		return c.errorf(where, "missing answer field (looked for %s, or a \\boxed{} in the solution; columns: %s; name it with answer=<column>)", tried(c.f.Answer, autoAnswer), r.columns())
	}
	if c.task == evals.TaskGPQA {
		if p.Incorrect, err = c.incorrect(r, where); err != nil {
			return err
		}
		opts := append([]string{p.Answer}, p.Incorrect...)
		for i, o := range opts {
			if slices.Contains(opts[i+1:], o) {
				return c.errorf(where, "option %q appears twice among the answer and the incorrect options", o)
			}
		}
	}
	if p.ID == "" {
		p.ID = strconv.Itoa(index)
	}
	if first, dup := c.where[p.ID]; dup {
		return c.errorf(where, "duplicate id %q (first at %s)", p.ID, first)
	}
	c.where[p.ID] = where
	c.out = append(c.out, p)
	return nil
}

// incorrect collects GPQA's wrong options: the explicit columns, or "Incorrect Answer N"
// columns in N order, or an array column.
func (c *converter) incorrect(r *record, where string) ([]string, error) {
	var vals []any
	var looked string
	switch {
	case len(c.f.Incorrect) > 0:
		looked = tried("", c.f.Incorrect)
		for _, name := range c.f.Incorrect {
			k, ok := r.find(name, nil)
			if !ok {
				return nil, c.errorf(where, "no column %q for the incorrect field (columns: %s)", name, r.columns())
			}
			vals = append(vals, r.vals[k])
		}
	default:
		looked = `"Incorrect Answer 1" to "Incorrect Answer 3", ` + tried("", autoWrongArr)
		type numbered struct {
			n int
			k string
		}
		var ns []numbered
		for _, k := range r.keys {
			rest, ok := strings.CutPrefix(norm(k), "incorrect answer ")
			if !ok {
				continue
			}
			if n, err := strconv.Atoi(rest); err == nil {
				ns = append(ns, numbered{n, k})
			}
		}
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].n < ns[j].n })
		for _, x := range ns {
			vals = append(vals, r.vals[x.k])
		}
		if len(vals) == 0 {
			if k, ok := r.find("", autoWrongArr); ok {
				vals = append(vals, r.vals[k])
			}
		}
	}
	var out []string
	for _, v := range vals {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				out = append(out, strings.TrimSpace(toText(e)))
			}
			continue
		}
		out = append(out, strings.TrimSpace(toText(v)))
	}
	if len(out) != 3 {
		return nil, c.errorf(where, "gpqa needs exactly 3 incorrect options, found %d (looked for %s; columns: %s)", len(out), looked, r.columns())
	}
	for i, o := range out {
		if o == "" {
			return nil, c.errorf(where, "incorrect option %d is empty", i+1)
		}
	}
	return out, nil
}

// toText renders a value of any JSON or Parquet type as text.
func toText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case json.Number:
		return numberText(string(x))
	case float64:
		return floatText(x, 64)
	case float32:
		return floatText(float64(x), 32)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		if len(x) == 1 {
			return toText(x[0])
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// numberText turns a JSON number into decimal text: integers as such (72.0 -> 72, 1e3 -> 1000).
func numberText(s string) string {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return floatText(f, 64)
}

func floatText(f float64, bits int) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// LastBoxed returns the content of the last \boxed{...} (or \fbox{...}) in s, nested braces
// included; escaped braces (\{ \}) do not count.
func LastBoxed(s string) (string, bool) {
	best, found := "", false
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		rest := s[i+1:]
		var n int
		switch {
		case strings.HasPrefix(rest, "boxed"):
			n = len("boxed")
		case strings.HasPrefix(rest, "fbox"):
			n = len("fbox")
		default:
			i++
			continue
		}
		k := i + 1 + n
		for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n') {
			k++
		}
		if k >= len(s) || s[k] != '{' {
			i = k
			continue
		}
		if body, end, ok := braced(s, k); ok {
			best, found = body, true
			i = end
		} else {
			i = k + 1
		}
	}
	return best, found
}

// braced returns the content of the group opening at s[open] == '{' and the index after it.
func braced(s string, open int) (string, int, bool) {
	depth := 0
	for k := open; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++ // skip the escaped character
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[open+1 : k], k + 1, true
			}
		}
	}
	return "", 0, false
}

// errTooLong is what the bounded readers return for a record over maxRecordBytes.
var errTooLong = errors.New("record too long")

func tooLong(c *converter, where string) error {
	return c.errorf(where, "record longer than %d MiB", maxRecordBytes>>20)
}
