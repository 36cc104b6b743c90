package controller

import (
	"math"
	"math/rand/v2"
	"testing"
)

// goLoss is the REINFORCE loss computed by the plain-Go policy: the
// independent oracle of the graph's gradient.
func goLoss(t *testing.T, c *Controller, eps []Episode, adv, entw []float64) float64 {
	t.Helper()
	loss := 0.0
	for k, e := range eps {
		c.buf.growPrev(e.Layers, c.cfg.Hidden)
		short := c.smp.compact(e.Layers, e.Choices) // the layout's vector
		scratch := make([]int, len(short))
		lp, ent := c.rollout(e.Layers, func(i int, _ []float64) int { return short[i] }, scratch)
		loss -= adv[k]*lp + entw[k]*ent
	}
	return loss
}

// TestGradientFiniteDifferences checks d loss / d w of the gorgonia graph
// against central differences of the plain-Go loss, for every parameter
// (a few entries of each), on a tiny instance with anchors and entropy.
func TestGradientFiniteDifferences(t *testing.T) {
	cases := []struct {
		name string
		sp   Space
		cfg  Config
	}{
		{"anchors entropy", tinySpace(true), Config{Seed: 11, Hidden: 4, Embedding: 3, InitRange: 0.6, EntropyWeight: 0.3}},
		{"chain", tinySpace(false), Config{Seed: 12, Hidden: 3, Embedding: 2, LSTMLayers: 1, InitRange: 0.6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.cfg, tc.sp)
			const layers = 3
			eps := sampleEpisodes(t, c, []int{layers, layers}, func(Sample) float64 { return 0 })
			adv := []float64{0.7, -1.3}
			entw := []float64{tc.cfg.EntropyWeight, tc.cfg.EntropyWeight}
			gr, err := c.buildGraph(len(eps), layers)
			if err != nil {
				t.Fatal(err)
			}
			newGrad := func() [][]float64 {
				grad := make([][]float64, len(c.grad))
				for i := range grad {
					grad[i] = make([]float64, len(c.grad[i]))
				}
				return grad
			}
			// Run the graph once on other episodes first: the gradient
			// must come from the second run alone (buffers are reused).
			other := sampleEpisodes(t, c, []int{layers, layers}, func(Sample) float64 { return 0 })
			if _, _, _, err := gr.run(c, []*Episode{&other[0], &other[1]}, []float64{-2, 3}, entw, newGrad()); err != nil {
				t.Fatal(err)
			}
			grad := newGrad()
			loss, _, _, err := gr.run(c, []*Episode{&eps[0], &eps[1]}, adv, entw, grad)
			if err != nil {
				t.Fatal(err)
			}
			if l := goLoss(t, c, eps, adv, entw); math.Abs(l-loss) > 1e-9 {
				t.Fatalf("graph loss %.15g, Go loss %.15g", loss, l)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const h = 1e-5
			checked, worst := 0, 0.0
			for pi, p := range c.w.all {
				for n := 0; n < 4; n++ {
					i := rng.IntN(len(p.w))
					old := p.w[i]
					p.w[i] = old + h
					lp := goLoss(t, c, eps, adv, entw)
					p.w[i] = old - h
					lm := goLoss(t, c, eps, adv, entw)
					p.w[i] = old
					fd := (lp - lm) / (2 * h)
					an := grad[pi][i]
					// central differences are exact to O(h²) plus rounding
					// of about 1e-16/h: allow 1e-9 absolute, 1e-6 relative.
					d := math.Abs(fd - an)
					worst = math.Max(worst, d)
					if d > 1e-9+1e-6*math.Abs(fd) {
						t.Errorf("%s[%d]: analytic %.10g, finite difference %.10g", p.name, i, an, fd)
					}
					checked++
				}
			}
			t.Logf("%d entries of %d params checked; worst absolute difference %.2g", checked, len(c.w.all), worst)
		})
	}
}
