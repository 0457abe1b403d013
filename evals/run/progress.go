package run

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/arborlabs/arbor/evals"
)

// progress draws one line, redrawn in place: a bar, samples done of those to draw, the
// estimated time left, the running accuracy of the graded samples, and the errors.
type progress struct {
	w                    io.Writer
	total, skipped, done int
	correct, errors      int
	start, last          time.Time
}

func newProgress(w io.Writer, total, skipped int) *progress {
	return &progress{w: w, total: total, skipped: skipped, start: time.Now()}
}

func (p *progress) add(r evals.Record) {
	p.done++
	switch {
	case r.Error != "":
		p.errors++
	case r.Correct:
		p.correct++
	}
	if p.w != nil && (time.Since(p.last) > 250*time.Millisecond || p.done == p.total) {
		p.draw()
	}
}

func (p *progress) draw() {
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	bar := strings.Repeat("=", int(frac*width)) + strings.Repeat(" ", width-int(frac*width))
	eta := "?"
	if p.done > 0 {
		left := time.Duration(float64(time.Since(p.start)) / float64(p.done) * float64(p.total-p.done))
		eta = left.Round(time.Second).String()
	}
	acc := "-"
	if graded := p.done - p.errors; graded > 0 {
		acc = fmt.Sprintf("%.3f", float64(p.correct)/float64(graded))
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d (%d already done)  ETA %s  accuracy %s  errors %d ", bar, p.done, p.total,
		p.skipped, eta, acc, p.errors)
}

func (p *progress) finish() {
	if p.w != nil && p.total > 0 {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
