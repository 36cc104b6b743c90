package controller

import (
	"errors"
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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

// TestCompileRefusesHashTwins: x539599 and x722382 are two vectors of
// three float64 with one FNV-32a Hashcode. gorgonia's tape machine runs
// x539599 + x722382 as one of them added to itself (the pitfall compile
// guards against); compile refuses the graph instead.
func TestCompileRefusesHashTwins(t *testing.T) {
	g := G.NewGraph()
	a := G.NewVector(g, tensor.Float64, G.WithName("x539599"), G.WithValue(tensor.New(tensor.WithBacking([]float64{1, 2, 3}))))
	b := G.NewVector(g, tensor.Float64, G.WithName("x722382"), G.WithValue(tensor.New(tensor.WithBacking([]float64{10, 20, 30}))))
	if a.Hashcode() != b.Hashcode() {
		t.Fatalf("hashes %#x and %#x differ: the names no longer collide", a.Hashcode(), b.Hashcode())
	}
	sum := G.Must(G.Add(a, b))
	var got G.Value
	G.Read(sum, &got)
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if v := got.Data().([]float64); v[0] == 11 {
		t.Errorf("gorgonia's tape machine computes %v, the right sum: the pitfall compile guards against may be gone", v)
	}
	if _, err := compile(g); !errors.Is(err, errHashCollision) {
		t.Errorf("compile: %v, want %v", err, errHashCollision)
	}
}

// TestSaltedGraphSameNumbers: the rebuild after a hash collision renames
// the leaves only; the loss, log-probabilities and gradients are the same
// bits.
func TestSaltedGraphSameNumbers(t *testing.T) {
	c := mustNew(t, Config{Seed: 3, InitRange: 0.5, EntropyWeight: 0.1}, v2Space(true))
	eps := sampleEpisodes(t, c, []int{3, 3}, func(Sample) float64 { return 0 })
	run := func(salt string) (float64, []float64, [][]float64) {
		gr, err := c.buildGraphSalted(2, 3, salt)
		if err != nil {
			t.Fatal(err)
		}
		grad := make([][]float64, len(c.grad))
		for i := range grad {
			grad[i] = make([]float64, len(c.grad[i]))
		}
		loss, lp, _, err := gr.run(c, []*Episode{&eps[0], &eps[1]}, []float64{0.5, -0.25}, []float64{0.05, 0.05}, grad)
		if err != nil {
			t.Fatal(err)
		}
		return loss, lp, grad
	}
	l0, lp0, g0 := run("")
	l1, lp1, g1 := run("~1")
	if l0 != l1 || !slices.Equal(lp0, lp1) {
		t.Errorf("loss %v / %v, log p %v / %v", l0, l1, lp0, lp1)
	}
	for i := range g0 {
		if !slices.Equal(g0[i], g1[i]) {
			t.Errorf("gradient of %s differs", c.w.all[i].name)
		}
	}
}
