package controller

import (
	"math"
	"testing"
)

// TestGraphLogProbMatchesSampler: the training graph and the plain-Go
// sampler are two implementations of one policy; Σ log p must agree.
func TestGraphLogProbMatchesSampler(t *testing.T) {
	cases := []struct {
		name   string
		sp     Space
		cfg    Config
		depths []int
	}{
		{"v2 anchors mixed depths", v2Space(true), Config{Seed: 3, InitRange: 0.5}, []int{1, 4, 4, 6}},
		{"v2 chain", v2Space(false), Config{Seed: 4, InitRange: 0.5}, []int{3, 3, 1}},
		{"tiny one lstm layer with entropy", tinySpace(true), Config{Seed: 5, Hidden: 6, LSTMLayers: 1, Embedding: 4, EntropyWeight: 0.1}, []int{2, 5}},
		{"single episode", tinySpace(true), Config{Seed: 6, Hidden: 5, LSTMLayers: 3}, []int{3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.cfg, tc.sp)
			eps := sampleEpisodes(t, c, tc.depths, func(Sample) float64 { return 0 })
			for k := range eps {
				eps[k].Reward = float64(k)
			}
			want := make([]float64, len(eps))
			for k, e := range eps {
				lp, err := c.LogProb(e.Layers, e.Choices)
				if err != nil {
					t.Fatal(err)
				}
				want[k] = lp
			}
			// The per-episode Σ log p of the graph comes back in groups
			// by depth; compare through the mean.
			st, err := c.Update(eps)
			if err != nil {
				t.Fatal(err)
			}
			mean := 0.0
			for _, v := range want {
				mean += v / float64(len(want))
			}
			if d := math.Abs(st.MeanLogProb - mean); d > 1e-9 {
				t.Errorf("graph mean log p %.15g, sampler %.15g (diff %g)", st.MeanLogProb, mean, d)
			}
			// and per episode, directly against each group's graph
			for k, e := range eps {
				gr := c.graphs[[2]int{1, e.Layers}]
				if gr == nil {
					gr, err = c.buildGraph(1, e.Layers)
					if err != nil {
						t.Fatal(err)
					}
				}
				grad := make([][]float64, len(c.grad))
				for i := range grad {
					grad[i] = make([]float64, len(c.grad[i]))
				}
				_, lp, _, err := gr.run(c, []*Episode{&eps[k]}, []float64{1}, []float64{0}, grad)
				if err != nil {
					t.Fatal(err)
				}
				sp, err := c.LogProb(e.Layers, e.Choices)
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(lp[0] - sp); d > 1e-9 {
					t.Errorf("episode %d (%d layers): graph %.15g, sampler %.15g (diff %g)", k, e.Layers, lp[0], sp, d)
				}
			}
		})
	}
}
