package recipe

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotLoss draws loss.csv as an SVG: the loss of every step, and its running mean over 50.
func plotLoss(csvPath, svgPath string) error {
	steps, losses, err := readLoss(csvPath)
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		return fmt.Errorf("%s: no steps", csvPath)
	}
	// At most about 1,000 points of each series: a plot of every step of a long run would be
	// megabytes of SVG for no more information.
	every := max(1, len(steps)/1000)
	var raw, smooth plotter.XYs
	sum := 0.0
	for i := range steps {
		sum += losses[i]
		if i >= 50 {
			sum -= losses[i-50]
		}
		if i%every == 0 || i == len(steps)-1 {
			raw = append(raw, plotter.XY{X: steps[i], Y: losses[i]})
			smooth = append(smooth, plotter.XY{X: steps[i], Y: sum / float64(min(i+1, 50))})
		}
	}
	p := plot.New()
	p.Title.Text = "Training loss (masked cross-entropy, nats per token)"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss"
	p.Y.Min = 0
	sc, err := plotter.NewScatter(raw)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Radius = vg.Points(0.8)
	l, err := plotter.NewLine(smooth)
	if err != nil {
		return err
	}
	l.LineStyle.Width = vg.Points(1.5)
	p.Add(sc, l, plotter.NewGrid())
	p.Legend.Add("step", sc)
	p.Legend.Add("mean of 50", l)
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 4*vg.Inch, svgPath)
}
