package search

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nas-project/nas/onnxgen"
)

// cellEval is a fake evaluator of cells: the reward is the share of the
// tree's nodes that multiply, so a strategy that learns finds cells of
// products.
type cellEval struct{ sp onnxgen.CellSpace }

func (e cellEval) Evaluate(_ context.Context, t Trial) (Outcome, error) {
	c, err := e.sp.ParseCell(t.Arch)
	if err != nil {
		return Outcome{}, fmt.Errorf("fake: %w", err)
	}
	if c.String() != t.Arch {
		return Outcome{}, fmt.Errorf("fake: %q is not canonical (%q)", t.Arch, c.String())
	}
	mul := 0
	for _, n := range c.Nodes {
		if n.Comb == onnxgen.CombMul {
			mul++
		}
	}
	r := float64(mul) / float64(len(c.Nodes))
	return Outcome{Status: Done, Reward: r, ValAcc: []float64{r}, Params: 1, Model: []byte(t.Arch)}, nil
}

// TestCellSearch: every strategy proposes canonical cells of the space's
// base, one layer each, and a resumed cell search continues exactly.
func TestCellSearch(t *testing.T) {
	sp := onnxgen.CellSpace{Base: 4}
	for _, strategy := range []string{StrategyRL, StrategyRandom, StrategyEvolution} {
		t.Run(strategy, func(t *testing.T) {
			o := Options{Strategy: strategy, Space: "cell4", M: 4, Trials: 16, Seed: 5, Population: 4, Tournament: 2}
			if d := o.WithDefaults(); d.Kind != KindRNN || d.Child.LM.Steps != DefaultLMSteps {
				t.Fatalf("cell4 resolves to kind %q, steps %d", d.Kind, d.Child.LM.Steps)
			}
			dir := filepath.Join(t.TempDir(), "run")
			runSearch(t, dir, o, cellEval{sp}, nil)
			recs := readTrials(t, dir)
			if len(recs) != 16 {
				t.Fatalf("%d trials, want 16", len(recs))
			}
			for _, r := range recs {
				if r.Layers != 1 || !strings.HasPrefix(r.Arch, "rnn: base4 |") || r.Status != Done && r.Status != Duplicate {
					t.Errorf("trial %d: %d layers, %s, %q (%s)", r.Index, r.Layers, r.Status, r.Arch, r.Error)
				}
			}
			// Stopped after 8 and resumed: the same 16 trials.
			dir2 := filepath.Join(t.TempDir(), "run")
			o.Trials = 8
			runSearch(t, dir2, o, cellEval{sp}, nil)
			o.Trials = 16
			if _, err := Run(context.Background(), Config{Dir: dir2, Options: o, Evaluator: cellEval{sp}, Resume: true}); err != nil {
				t.Fatal(err)
			}
			for i, r := range readTrials(t, dir2) {
				if w := recs[i]; r.Arch != w.Arch || r.Reward != w.Reward || r.Status != w.Status {
					t.Errorf("resumed trial %d: %s %v %q, uninterrupted %s %v %q", i, r.Status, r.Reward, r.Arch, w.Status, w.Reward, w.Arch)
				}
			}
		})
	}
}

// TestCellOptions: the rnn kind's own checks.
func TestCellOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Space: "cell3", Kind: KindRNN, Trials: 1}, "cell space"},
		{Options{Space: "cell8", Trials: 1, Child: ChildOptions{Momentum: Float(0.9)}}, "plain SGD"},
		{Options{Space: "cell8", Trials: 1, Child: ChildOptions{LM: LMOptions{Layers: 3}}}, "cell layers 3"},
		{Options{Space: "cell8", Trials: 1, Child: ChildOptions{LM: LMOptions{Clip: -1}}}, "clip -1"},
		{Options{Space: "cell8", Trials: 1, Cost: CostObjective{Target: 1e6}}, "cost objective is for CNNs"},
		{Options{Space: "v1", Kind: KindRNN, Trials: 1}, "cell space"},
		{Options{Space: "cell8", Trials: 1, Final: FinalTraining{K: 2}}, "final training phase trains CNNs only"},
	} {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: Validate() = %v, want %q", c.o, err, c.want)
		}
	}
	if err := (Options{Space: "cell2", Trials: 1}).Validate(); err != nil {
		t.Errorf("a plain cell search: %v", err)
	}
}
