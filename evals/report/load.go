// Package report turns an eval run directory (run.json, the run's settings, and results.jsonl,
// its records) into a report: report.md, summary.json and SVG plots (Write), or a side-by-side
// markdown comparison of several runs (WriteCompare). The scores come from evals/metrics.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/arborlabs/arbor/evals"
)

// File names inside a run directory.
const (
	RunFile     = "run.json"
	ResultsFile = "results.jsonl"
	SummaryFile = "summary.json"
	ReportFile  = "report.md"
)

// Load reads a run directory: run.json (the run's settings, kept as an opaque map; a missing
// file gives an empty map) and results.jsonl. Lines that do not parse (the last line a crash
// cut short, or a line a crash left unterminated before a resumed run appended to it) are
// skipped and logged with their count; see LoadResults. A later line for the same
// problem#sample replaces an earlier one.
func Load(dir string) (run map[string]any, records []evals.Record, err error) {
	run, err = LoadRun(dir)
	if err != nil {
		return nil, nil, err
	}
	records, skipped, err := LoadResults(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, nil, err
	}
	if skipped > 0 {
		log.Printf("report: %s: skipped %d malformed line(s) (a truncated write?)", filepath.Join(dir, ResultsFile), skipped)
	}
	return run, records, nil
}

// LoadRun reads dir's run.json; a missing file gives an empty map.
func LoadRun(dir string) (map[string]any, error) {
	run := map[string]any{}
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if errors.Is(err, fs.ErrNotExist) {
		return run, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RunFile), err)
	}
	if run == nil { // the file held null
		run = map[string]any{}
	}
	return run, nil
}

// LoadResults reads a results.jsonl: one evals.Record per line, blank lines ignored. Lines
// that are not a JSON record are skipped and counted in skipped. Records keep the position
// of their key's first line, with the content of its last.
func LoadResults(path string) (records []evals.Record, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	index := map[string]int{}
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, 0, fmt.Errorf("%s: %w", path, rerr)
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			var r evals.Record
			if json.Unmarshal(line, &r) != nil || r.Problem == "" {
				skipped++
			} else if i, ok := index[r.Key()]; ok {
				records[i] = r
			} else {
				index[r.Key()] = len(records)
				records = append(records, r)
			}
		}
		if rerr == io.EOF {
			return records, skipped, nil
		}
	}
}
