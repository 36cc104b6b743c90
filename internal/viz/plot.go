package viz

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one trial of a run: its index, its reward, and the group that
// colours it (its strategy or its status).
type Point struct {
	Index  int
	Reward float64
	Group  string
}

// palette colours the groups, in order of their names.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

// MovingWindow is the window of PlotRewards' moving average: a tenth of the
// trials, at least 5 and at most 50.
func MovingWindow(n int) int { return min(50, max(5, n/10)) }

// PlotRewards writes a PNG (800×500) of the reward of every trial, coloured by
// group, with the best reward so far (a step line) and the moving average
// (MovingWindow trials). NaN rewards are left out.
func PlotRewards(points []Point, title string, w io.Writer) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "trial"
	p.Y.Label.Text = "reward"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	pts := make([]Point, 0, len(points))
	for _, q := range points {
		if !math.IsNaN(q.Reward) && !math.IsInf(q.Reward, 0) {
			pts = append(pts, q)
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Index < pts[j].Index })
	if len(pts) == 0 {
		p.Title.Text = title + " (no trials yet)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}

	groups := map[string]plotter.XYs{}
	var names []string
	for _, q := range pts {
		if _, ok := groups[q.Group]; !ok {
			names = append(names, q.Group)
		}
		groups[q.Group] = append(groups[q.Group], plotter.XY{X: float64(q.Index), Y: q.Reward})
	}
	sort.Strings(names)
	for i, name := range names {
		s, err := plotter.NewScatter(groups[name])
		if err != nil {
			return fmt.Errorf("viz: %w", err)
		}
		s.GlyphStyle.Color = palette[i%len(palette)]
		s.GlyphStyle.Radius = vg.Points(2.2)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(name, s)
	}

	if len(pts) > 0 {
		best := make(plotter.XYs, len(pts))
		avg := make(plotter.XYs, len(pts))
		win := MovingWindow(len(pts))
		b, sum := math.Inf(-1), 0.0
		for i, q := range pts {
			b = max(b, q.Reward)
			best[i] = plotter.XY{X: float64(q.Index), Y: b}
			sum += q.Reward
			if i >= win {
				sum -= pts[i-win].Reward
			}
			avg[i] = plotter.XY{X: float64(q.Index), Y: sum / float64(min(i+1, win))}
		}
		bl, err := plotter.NewLine(best)
		if err != nil {
			return fmt.Errorf("viz: %w", err)
		}
		bl.StepStyle = plotter.PostStep
		bl.LineStyle.Width = vg.Points(1.8)
		bl.LineStyle.Color = color.Black
		al, err := plotter.NewLine(avg)
		if err != nil {
			return fmt.Errorf("viz: %w", err)
		}
		al.LineStyle.Width = vg.Points(1.5)
		al.LineStyle.Color = color.RGBA{0x77, 0x77, 0x77, 0xff}
		al.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(bl, al)
		p.Legend.Add("best so far", bl)
		p.Legend.Add(fmt.Sprintf("moving average (%d)", win), al)
	}

	c := vgimg.New(8*vg.Inch, 5*vg.Inch)
	p.Draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("viz: write png: %w", err)
	}
	return nil
}
