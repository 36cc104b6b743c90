package viz

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// trials makes n points in 3 groups whose rewards rise, with one NaN and one
// +Inf reward (both to be left out).
func trials(n int) []Point {
	var pts []Point
	for i := range n {
		g, r := "done", 0.3+0.5*(1-math.Exp(-float64(i)/60))+0.05*math.Sin(float64(i))
		switch {
		case i%17 == 3:
			g, r = "diverged", 0.05
		case i%11 == 5:
			g = "duplicate"
		}
		if i == 7 {
			r = math.NaN()
		}
		if i == 8 {
			r = math.Inf(1)
		}
		pts = append(pts, Point{Index: i, Reward: r, Group: g})
	}
	return pts
}

// TestPlotRewards checks that PlotRewards writes a PNG of the documented size
// for 0, 1 and 200 trials, that the biggest group's colour shows up exactly
// when there are points, and that the bytes depend only on the input.
func TestPlotRewards(t *testing.T) {
	for _, c := range []struct {
		n      int
		points bool
		why    string
	}{
		{0, false, "an empty run: empty axes, no legend"},
		{1, true, "one trial: axes around the single point"},
		{200, true, "a run with 3 groups, a NaN and an Inf"},
	} {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			var buf bytes.Buffer
			if err := PlotRewards(trials(c.n), "run: reinforce, space v1", &buf); err != nil {
				t.Fatalf("%s: %v", c.why, err)
			}
			raw := bytes.Clone(buf.Bytes())
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("%s: not a PNG: %v", c.why, err)
			}
			if b := img.Bounds(); b.Dx() != PlotWidth || b.Dy() != PlotHeight {
				t.Errorf("%s: PNG is %dx%d, want %dx%d", c.why, b.Dx(), b.Dy(), PlotWidth, PlotHeight)
			}
			if got := countNear(img, glyphColour(0), 6); (got > 0) != c.points {
				t.Errorf("%s: %d pixels of the first group's colour", c.why, got)
			}
			var again bytes.Buffer
			if err := PlotRewards(trials(c.n), "run: reinforce, space v1", &again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, again.Bytes()) {
				t.Errorf("%s: two PNGs of the same points differ", c.why)
			}
		})
	}
}

// TestPlotRewardsGroups checks that every group gets its own colour: the
// third group's colour appears only when the third group exists.
func TestPlotRewardsGroups(t *testing.T) {
	pts := trials(60)
	for _, c := range []struct {
		drop string
		want bool
	}{{"", true}, {"diverged", false}} {
		var kept []Point
		for _, p := range pts {
			if p.Group != c.drop {
				kept = append(kept, p)
			}
		}
		var buf bytes.Buffer
		if err := PlotRewards(kept, "", &buf); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := countNear(img, glyphColour(2), 6); (got > 0) != c.want {
			t.Errorf("without %q: %d pixels of the third group's colour, want some: %v", c.drop, got, c.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPlotRewardsWriteError(t *testing.T) {
	err := PlotRewards(trials(3), "", failWriter{})
	if err == nil || !strings.HasPrefix(err.Error(), "viz: write png: ") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("PlotRewards to a failing writer: %v", err)
	}
}

func TestMovingWindow(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 5}, {1, 5}, {59, 5}, {200, 20}, {499, 49}, {5000, 50}} {
		if got := MovingWindow(c.n); got != c.want {
			t.Errorf("MovingWindow(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	labels := func(ts []plot.Tick) string {
		var s []string
		for _, t := range ts {
			if t.Label != "" {
				s = append(s, t.Label)
			}
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		lo, hi  float64
		integer bool
		want    string
		why     string
	}{
		{0, 199, true, "0 20 40 60 80 100 120 140 160 180", "trials: steps of 20"},
		{0, 7, true, "0 1 2 3 4 5 6 7", "few trials: integer steps"},
		{0, 2, true, "0 1 2", "integer axes never get 0.5"},
		{0.02, 1.05, false, "0.2 0.4 0.6 0.8 1.0", "rewards: steps of 0.2"},
		{0.61, 0.67, false, "0.61 0.62 0.63 0.64 0.65 0.66 0.67", "a narrow range: two decimals"},
		{-0.3, 0.3, false, "-0.3 -0.2 -0.1 0.0 0.1 0.2 0.3", "zero is 0.0, not -0.0"},
		{1, 1, false, "1", "an empty range"},
	} {
		if got := labels(niceTicks{integer: c.integer}.Ticks(c.lo, c.hi)); got != c.want {
			t.Errorf("ticks of [%g, %g] = %q, want %q (%s)", c.lo, c.hi, got, c.want, c.why)
		}
	}
}

// glyphColour is the colour of group i's points drawn alone on white.
func glyphColour(i int) color.RGBA {
	c := palette[i%len(palette)]
	a := float64(glyphAlpha) / 255
	mix := func(v uint8) uint8 { return uint8(math.Round(float64(v)*a + 255*(1-a))) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xff}
}

// countNear counts the pixels within tol of c in every channel.
func countNear(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R, tol) && near(g>>8, c.G, tol) && near(bl>>8, c.B, tol) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, w uint8, tol int) bool {
	d := int(v) - int(w)
	return d <= tol && d >= -tol
}

func BenchmarkPlotRewards(b *testing.B) {
	for _, n := range []int{200, 2000} {
		pts := trials(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if err := PlotRewards(pts, "bench", io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
