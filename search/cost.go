package search

import (
	"fmt"
	"math"
)

// Cost metrics.
const (
	CostFLOPs  = "flops"
	CostParams = "params"
)

// CostObjective makes the search trade accuracy for size, as MnasNet does
// (Tan et al., 2019, "MnasNet: Platform-Aware Neural Architecture Search
// for Mobile"): a Done trial's reward R becomes
//
//	R · (c / Target)^w,  w = Weight if c > Target, else (Hard ? 0 : Weight)
//
// where c is the child's cost by Metric: its multiply-adds for one image
// (the trial table's flops, onnxgen.Cost.FLOPs) or its parameters. With the
// soft objective (MnasNet's α = β = −0.07) a model twice the target loses
// about 5% of its reward and one half the target gains as much; with Hard
// (α = 0, β = −1) models within the target are ranked by accuracy alone
// and larger ones lose reward in proportion. The zero value (Target 0)
// leaves the reward alone. The objective is the trial's recorded reward
// and what every strategy sees; its accuracy stays in val_acc.
type CostObjective struct {
	// Metric is CostFLOPs or CostParams. Empty means CostFLOPs.
	Metric string `json:"metric,omitempty"`
	// Target is the cost T a child is aimed at. Zero turns the objective off.
	Target int64 `json:"target,omitempty"`
	// Weight is the exponent w above the target, negative. Zero means
	// −0.07 (soft) or −1 (Hard).
	Weight float64 `json:"weight,omitempty"`
	// Hard makes the exponent 0 at or below the target.
	Hard bool `json:"hard,omitempty"`
}

// On reports whether the objective changes rewards.
func (c CostObjective) On() bool { return c.Target > 0 }

// WithDefaults resolves Metric and Weight (only when the objective is on).
func (c CostObjective) WithDefaults() CostObjective {
	if !c.On() {
		return c
	}
	if c.Metric == "" {
		c.Metric = CostFLOPs
	}
	if c.Weight == 0 {
		c.Weight = -0.07
		if c.Hard {
			c.Weight = -1
		}
	}
	return c
}

// Validate reports a field out of range (after defaults).
func (c CostObjective) Validate() error {
	d := c.WithDefaults()
	switch {
	case c.Target < 0:
		return fmt.Errorf("search: cost target %d: want >= 0 (0: no cost objective)", c.Target)
	case !c.On() && (c.Metric != "" || c.Weight != 0 || c.Hard):
		return fmt.Errorf("search: a cost metric, weight or hard constraint needs a cost target")
	case d.Metric != "" && d.Metric != CostFLOPs && d.Metric != CostParams:
		return fmt.Errorf("search: cost metric %q: want %s or %s", c.Metric, CostFLOPs, CostParams)
	case !finite(d.Weight) || d.Weight > 0:
		return fmt.Errorf("search: cost weight %v: want a finite value <= 0 (0: the default)", c.Weight)
	}
	return nil
}

// apply returns the objective of a Done trial with reward r and the given
// cost (after defaults), or an error when the evaluator reported no cost.
func (c CostObjective) apply(r float64, flops, params int64) (float64, error) {
	if !c.On() {
		return r, nil
	}
	cost := flops
	if c.Metric == CostParams {
		cost = params
	}
	if cost <= 0 {
		return 0, fmt.Errorf("the cost objective needs the child's %s, and the evaluator reported %d", c.Metric, cost)
	}
	w := c.Weight
	if cost <= c.Target && c.Hard {
		w = 0
	}
	return r * math.Pow(float64(cost)/float64(c.Target), w), nil
}
