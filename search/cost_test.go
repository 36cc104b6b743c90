package search

import (
	"math"
	"strings"
	"testing"
)

func TestCostObjectiveApply(t *testing.T) {
	const T = 1000
	cases := []struct {
		name          string
		c             CostObjective
		flops, params int64
		want          float64
	}{
		{"off", CostObjective{}, 5000, 7, 0.8},
		{"soft at the target", CostObjective{Target: T}, T, 1, 0.8},
		{"soft, twice the target", CostObjective{Target: T}, 2 * T, 1, 0.8 * math.Pow(2, -0.07)},
		{"soft, half the target gains", CostObjective{Target: T}, T / 2, 1, 0.8 * math.Pow(2, 0.07)},
		{"hard, under the target", CostObjective{Target: T, Hard: true}, T / 4, 1, 0.8},
		{"hard, twice the target", CostObjective{Target: T, Hard: true}, 2 * T, 1, 0.4},
		{"params", CostObjective{Target: T, Metric: CostParams, Weight: -0.5}, 1, 4 * T, 0.4},
	}
	for _, c := range cases {
		got, err := c.c.WithDefaults().apply(0.8, c.flops, c.params)
		if err != nil || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := (CostObjective{Target: T, Metric: CostParams}).WithDefaults().apply(0.8, 10, 0); err == nil || !strings.Contains(err.Error(), "params") {
		t.Errorf("no params reported: %v", err)
	}
}

func TestCostObjectiveValidate(t *testing.T) {
	bad := []struct {
		c    CostObjective
		want string
	}{
		{CostObjective{Target: -1}, "cost target -1"},
		{CostObjective{Hard: true}, "needs a cost target"},
		{CostObjective{Metric: CostParams}, "needs a cost target"},
		{CostObjective{Target: 10, Metric: "latency"}, `cost metric "latency"`},
		{CostObjective{Target: 10, Weight: 0.1}, "cost weight 0.1"},
		{CostObjective{Target: 10, Weight: math.Inf(-1)}, "cost weight -Inf"},
	}
	for _, b := range bad {
		o := testOptions(StrategyRandom, 4)
		o.Cost = b.c
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), b.want) || !strings.HasPrefix(err.Error(), "search: ") {
			t.Errorf("%+v: %v, want %q", b.c, err, b.want)
		}
	}
	o := testOptions(StrategyRandom, 4)
	o.Cost = CostObjective{Target: 10, Hard: true}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := o.WithDefaults().Cost; d.Metric != CostFLOPs || d.Weight != -1 {
		t.Errorf("defaults: %+v", d)
	}
}

// TestCostObjectiveSearch: with a cost objective every Done trial's reward
// is its accuracy-based reward times (cost/target)^w, the best trial is
// chosen by it, and the run directory keeps the objective for a resume.
func TestCostObjectiveSearch(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(StrategyEvolution, 24)
	o.Population, o.Tournament = 8, 3
	o.Cost = CostObjective{Metric: CostParams, Target: 40, Weight: -0.5} // the fake's params: the arch string's length
	sum := runSearch(t, dir, o, newFake(), nil)
	stored, recs, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Cost != o.Cost {
		t.Errorf("stored cost objective %+v, want %+v", stored.Cost, o.Cost)
	}
	best, done := -1, 0
	for i, r := range recs {
		if r.Status != Done {
			continue
		}
		done++
		raw := r.ValAcc[len(r.ValAcc)-1] // the fake's reward
		want := raw * math.Pow(float64(len(r.Arch))/40, -0.5)
		if math.Abs(r.Reward-want) > 1e-12 {
			t.Errorf("trial %d (%d params): reward %v, want %v", i, len(r.Arch), r.Reward, want)
		}
		if best < 0 || r.Reward > recs[best].Reward {
			best = i
		}
	}
	if done < 10 || sum.Best == nil || sum.Best.Index != best {
		t.Fatalf("%d done; best %d, summary's %+v", done, best, sum.Best)
	}
}
