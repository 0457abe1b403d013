package report

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/arborlabs/arbor/evals"
	"github.com/arborlabs/arbor/evals/metrics"
)

// writePlots writes the SVGs that apply to the run and returns their names, in the order the
// report shows them.
func writePlots(dir string, records []evals.Record, s metrics.Summary) ([]string, error) {
	var written []string
	if err := accuracyPlot(filepath.Join(dir, AccuracyPlot), s); err != nil {
		return nil, fmt.Errorf("%s: %w", AccuracyPlot, err)
	}
	written = append(written, AccuracyPlot)
	if s.Graded > 0 {
		if err := tokensPlot(filepath.Join(dir, TokensPlot), records); err != nil {
			return nil, fmt.Errorf("%s: %w", TokensPlot, err)
		}
		written = append(written, TokensPlot)
	}
	if s.KVPeakTokens != nil {
		if err := kvPlot(filepath.Join(dir, KVPeakPlot), records); err != nil {
			return nil, fmt.Errorf("%s: %w", KVPeakPlot, err)
		}
		written = append(written, KVPeakPlot)
	}
	return written, nil
}

var (
	colorBlue = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorGray = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff}
)

// errPoints are points with asymmetric Y errors, for plotter.NewYErrorBars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// accuracyPlot draws accuracy with its 95% CI: overall, then each subject and level.
func accuracyPlot(path string, s metrics.Summary) error {
	type bar struct {
		label string
		acc   float64
		ci    [2]float64
	}
	bars := []bar{{"overall", s.Accuracy, s.CI95}}
	for _, k := range slices.Sorted(maps.Keys(s.BySubject)) {
		g := s.BySubject[k]
		bars = append(bars, bar{k, g.Accuracy, g.CI95})
	}
	for _, k := range slices.Sorted(maps.Keys(s.ByLevel)) {
		g := s.ByLevel[k]
		bars = append(bars, bar{"level " + k, g.Accuracy, g.CI95})
	}
	p := plot.New()
	p.Title.Text = "Accuracy (avg@k) with 95% CI"
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	vals := make(plotter.Values, len(bars))
	pts := errPoints{XYs: make(plotter.XYs, len(bars)), YErrors: make(plotter.YErrors, len(bars))}
	names := make([]string, len(bars))
	for i, b := range bars {
		vals[i] = b.acc
		names[i] = b.label
		pts.XYs[i] = plotter.XY{X: float64(i), Y: b.acc}
		pts.YErrors[i].Low = math.Max(0, b.acc-b.ci[0])
		pts.YErrors[i].High = math.Max(0, b.ci[1]-b.acc)
	}
	bc, err := plotter.NewBarChart(vals, vg.Points(18))
	if err != nil {
		return err
	}
	bc.LineStyle.Width = 0
	bc.Color = colorBlue
	eb, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return err
	}
	p.Add(bc, eb, plotter.NewGrid())
	p.NominalX(names...)
	if len(bars) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = -1 // text ends at the tick
		p.X.Tick.Label.YAlign = -0.5
	}
	width := vg.Length(math.Min(20, 3+0.5*float64(len(bars)))) * vg.Inch
	return p.Save(width, 4*vg.Inch, path)
}

// tokensPlot draws, per problem, the mean completion tokens of its graded samples against its
// share of correct ones (points), and the accuracy of the graded samples in up to ten
// equal-count buckets of completion tokens (line).
func tokensPlot(path string, records []evals.Record) error {
	type agg struct{ tokens, correct, n float64 }
	byProblem := map[string]*agg{}
	var graded []evals.Record
	for _, r := range records {
		if r.Error != "" {
			continue
		}
		graded = append(graded, r)
		a := byProblem[r.Problem]
		if a == nil {
			a = &agg{}
			byProblem[r.Problem] = a
		}
		a.tokens += float64(r.CompletionTokens)
		a.n++
		if r.Correct {
			a.correct++
		}
	}
	var pts plotter.XYs
	for _, id := range slices.Sorted(maps.Keys(byProblem)) {
		a := byProblem[id]
		pts = append(pts, plotter.XY{X: a.tokens / a.n, Y: a.correct / a.n})
	}
	slices.SortStableFunc(graded, func(a, b evals.Record) int { return cmp.Compare(a.CompletionTokens, b.CompletionTokens) })
	nb := min(10, len(graded))
	var line plotter.XYs
	for i := range nb {
		lo, hi := i*len(graded)/nb, (i+1)*len(graded)/nb
		var tok, c float64
		for _, r := range graded[lo:hi] {
			tok += float64(r.CompletionTokens)
			if r.Correct {
				c++
			}
		}
		n := float64(hi - lo)
		line = append(line, plotter.XY{X: tok / n, Y: c / n})
	}

	p := plot.New()
	p.Title.Text = "Accuracy against completion tokens"
	p.X.Label.Text = "completion tokens (gray: one problem's mean; blue: samples by token decile)"
	p.Y.Label.Text = "share correct"
	p.Y.Min, p.Y.Max = 0, 1
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = colorGray
	sc.GlyphStyle.Radius = vg.Points(2)
	l, lp, err := plotter.NewLinePoints(line)
	if err != nil {
		return err
	}
	l.Color, lp.Color = colorBlue, colorBlue
	p.Add(plotter.NewGrid(), sc, l, lp)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// kvPlot draws the histogram of the graded samples' kv_peak_tokens.
func kvPlot(path string, records []evals.Record) error {
	var v plotter.Values
	for _, r := range records {
		if r.Error == "" && r.KVPeakTokens != nil {
			v = append(v, float64(*r.KVPeakTokens))
		}
	}
	bins := 20
	if slices.Min(v) == slices.Max(v) {
		bins = 1
	}
	h, err := plotter.NewHist(v, bins)
	if err != nil {
		return err
	}
	h.FillColor = colorBlue
	p := plot.New()
	p.Title.Text = "KV-cache peak per sample"
	p.X.Label.Text = "kv_peak_tokens"
	p.Y.Label.Text = "samples"
	p.Add(h)
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}
