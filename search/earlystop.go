package search

import (
	"fmt"
	"slices"
)

// EarlyStop is the median stopping rule (Golovin et al., 2017, "Google
// Vizier: A Service for Black-Box Optimization"; Katib's medianstop): a
// child is stopped after epoch e when its best validation accuracy so far
// is below the median, over the trials of earlier iterations that reached
// epoch e, of their mean validation accuracy over epochs 1…e. It needs
// children of two epochs or more and saves the training time of the
// unpromising ones; a stopped trial is recorded as Stopped with the reward
// of the epochs it ran.
//
// Only trials of earlier iterations count (Done and Stopped, not
// duplicates), so a trial's thresholds do not depend on which children of
// its own iteration finish first: a run stays reproducible and a resumed
// one exact.
type EarlyStop struct {
	// On turns the rule on.
	On bool `json:"on,omitempty"`
	// MinTrials is how many earlier trials must have reached epoch e
	// before the rule applies there. Zero means 5.
	MinTrials int `json:"min_trials,omitempty"`
}

// DefaultEarlyStopMin is EarlyStop.MinTrials's default.
const DefaultEarlyStopMin = 5

// WithDefaults resolves MinTrials (only when the rule is on).
func (e EarlyStop) WithDefaults() EarlyStop {
	if e.On && e.MinTrials == 0 {
		e.MinTrials = DefaultEarlyStopMin
	}
	return e
}

// Validate reports a field out of range.
func (e EarlyStop) Validate() error {
	switch {
	case e.MinTrials < 0:
		return fmt.Errorf("search: early stop min trials %d: want >= 0", e.MinTrials)
	case !e.On && e.MinTrials != 0:
		return fmt.Errorf("search: early stop min trials %d without early stopping", e.MinTrials)
	}
	return nil
}

// thresholds returns the per-epoch thresholds for the trials of an
// iteration, computed from the final records of the earlier iterations
// (prior), for children of the given number of epochs; nil when the rule is
// off or no epoch has enough trials.
func (e EarlyStop) thresholds(prior []Record, epochs int) []float64 {
	if !e.On || epochs < 2 {
		return nil
	}
	var out []float64
	for ep := 0; ep < epochs-1; ep++ {
		var means []float64
		for _, r := range prior {
			if (r.Status != Done && r.Status != Stopped) || len(r.ValAcc) <= ep {
				continue
			}
			sum := 0.0
			for _, v := range r.ValAcc[:ep+1] {
				sum += v
			}
			means = append(means, sum/float64(ep+1))
		}
		th := 0.0
		if len(means) >= e.MinTrials {
			th = median(means)
		}
		out = append(out, th)
	}
	if !slices.ContainsFunc(out, func(v float64) bool { return v > 0 }) {
		return nil
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
