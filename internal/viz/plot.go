package viz

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"

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

// Size of the PNG PlotRewards writes.
const (
	PlotWidth  = 1000 // pixels
	PlotHeight = 560  // pixels
	plotDPI    = 100
)

// palette colours the groups, the largest group first: Okabe and Ito's
// colour-blind-safe palette, without its yellow and black (black is the best
// so far line).
var palette = []color.NRGBA{
	{0x00, 0x72, 0xb2, 0xff}, // blue
	{0xe6, 0x9f, 0x00, 0xff}, // orange
	{0x00, 0x9e, 0x73, 0xff}, // bluish green
	{0xd5, 0x5e, 0x00, 0xff}, // vermillion
	{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
	{0x56, 0xb4, 0xe9, 0xff}, // sky blue
}

// glyphAlpha is the opacity of the points, so that overlapping points show.
const glyphAlpha = 0xd0

// glyphs tell groups apart once the palette repeats.
var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{}}

// MovingWindow is the window of PlotRewards' moving average over n plotted
// trials: n/10, at least 5 and at most 50. The average at a trial is the mean
// reward of it and the window-1 trials before it (fewer at the start).
func MovingWindow(n int) int { return min(50, max(5, n/10)) }

// PlotRewards writes a PNG (PlotWidth×PlotHeight pixels) of the reward of
// every trial against its index: one scatter per group, coloured (and, past
// six groups, shaped) by group, the largest group first; the best reward so
// far as a black step line; the moving average (MovingWindow) as a dashed grey
// line; a legend to the right of the axes. Axes are labelled "trial" and
// "reward". Points whose reward is NaN or infinite are left out; with no
// point left the plot is empty and the title says "(no trials)". Points are
// sorted by index (stable) for the two lines; groups are ordered by size, then
// name, so that the picture depends only on the points. Errors come from
// writing to w, or from gonum/plot ("viz: plot: ...").
func PlotRewards(points []Point, title string, w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil { // gonum/plot panics on some inputs
			err = fmt.Errorf("viz: plot: %v", r)
		}
	}()
	pts := make([]Point, 0, len(points))
	for _, q := range points {
		if !math.IsNaN(q.Reward) && !math.IsInf(q.Reward, 0) {
			pts = append(pts, q)
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Index < pts[j].Index })

	p := plot.New()
	p.Title.Text = clean(title)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "trial"
	p.Y.Label.Text = "reward"
	p.X.Label.TextStyle.Font.Size = vg.Points(12)
	p.Y.Label.TextStyle.Font.Size = vg.Points(12)
	p.X.Tick.Marker = niceTicks{integer: true}
	p.Y.Tick.Marker = niceTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xd0}
	grid.Horizontal.Color = color.Gray{0xd0}
	p.Add(grid)
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(11)
	legend.Padding = vg.Points(2)

	if len(pts) == 0 {
		p.Title.Text = joinTitle(p.Title.Text, "(no trials)")
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}

	// Scatter per group.
	groups := map[string]plotter.XYs{}
	var names []string
	for _, q := range pts {
		if _, ok := groups[q.Group]; !ok {
			names = append(names, q.Group)
		}
		groups[q.Group] = append(groups[q.Group], plotter.XY{X: float64(q.Index), Y: q.Reward})
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := len(groups[names[i]]), len(groups[names[j]])
		if a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	radius := vg.Points(2.6)
	switch {
	case len(pts) > 2000:
		radius = vg.Points(1.4)
	case len(pts) > 400:
		radius = vg.Points(2)
	}
	for i, name := range names {
		s, err := plotter.NewScatter(groups[name])
		if err != nil {
			return fmt.Errorf("viz: plot: group %q: %w", name, err)
		}
		c := palette[i%len(palette)]
		c.A = glyphAlpha
		s.GlyphStyle.Color = c
		s.GlyphStyle.Radius = radius
		s.GlyphStyle.Shape = glyphs[(i/len(palette))%len(glyphs)]
		p.Add(s)
		label := name
		if label == "" {
			label = "(none)"
		}
		legend.Add(fmt.Sprintf("%s (%d)", clean(label), len(groups[name])), s)
	}

	// Best so far and moving average, over all groups in index order.
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
		al, err := plotter.NewLine(avg)
		if err != nil {
			return fmt.Errorf("viz: plot: moving average: %w", err)
		}
		al.LineStyle.Width = vg.Points(1.6)
		al.LineStyle.Color = color.Gray{0x66}
		al.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		bl, err := plotter.NewLine(best)
		if err != nil {
			return fmt.Errorf("viz: plot: best so far: %w", err)
		}
		bl.StepStyle = plotter.PostStep
		bl.LineStyle.Width = vg.Points(1.8)
		bl.LineStyle.Color = color.Black
		p.Add(al, bl)
		legend.Add(fmt.Sprintf("best so far (%s)", strconv.FormatFloat(b, 'g', 4, 64)), bl)
		legend.Add(fmt.Sprintf("moving average (%d trials)", win), al)
		if len(pts) == 1 { // a single point: give the axes some room
			x, y := float64(pts[0].Index), pts[0].Reward
			p.X.Min, p.X.Max = x-1, x+1
			p.Y.Min, p.Y.Max = y-0.5, y+0.5
		}
	}

	c := vgimg.NewWith(vgimg.UseWH(PlotWidth*vg.Inch/plotDPI, PlotHeight*vg.Inch/plotDPI), vgimg.UseDPI(plotDPI))
	dc := draw.New(c)
	margin := vg.Points(10)
	dc = draw.Crop(dc, margin, -margin, margin/2, -margin/2)
	var lw vg.Length
	if len(pts) > 0 {
		lw = legend.Rectangle(dc).Size().X + margin
	}
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	if len(pts) > 0 {
		// The legend's top meets the top of the axes, below the title.
		top := p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding
		if p.Title.Text == "" {
			top = 0
		}
		legend.Draw(draw.Crop(dc, dc.Size().X-lw+margin, 0, 0, -top-margin))
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("viz: write png: %w", err)
	}
	return nil
}

func joinTitle(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// niceTicks marks an axis at 1, 2 or 5 times a power of ten, five to ten
// major ticks over the range, labelled without trailing zeros; integer axes
// (trial indices) never get a fractional step.
type niceTicks struct{ integer bool }

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 10 {
			step *= m
			break
		}
	}
	if t.integer {
		step = math.Max(1, math.Round(step))
	}
	minor := step / 2
	if t.integer && minor < 1 {
		minor = 0
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals(step), 64)})
		if m := v + minor; minor > 0 && m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	if minor > 0 {
		if m := math.Ceil(lo/step-1e-9)*step - minor; m >= lo {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}

// decimals is the number of decimals that shows a multiple of step exactly
// (step is 1, 2 or 5 times a power of ten).
func decimals(step float64) int {
	return max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
}
