package search

import (
	"fmt"
	"sort"
)

// Cost metrics of ParetoFront (the same as CostObjective's).
const (
	ByFLOPs  = CostFLOPs
	ByParams = CostParams
)

// ParetoFront is the run's trade-off between accuracy and size: the Done
// trials that no other Done trial beats on both, that is with a best
// validation accuracy at least as high and a cost (multiply-adds per image,
// or parameters) at most as high, one of them strictly. It is sorted by cost
// ascending (so accuracy ascends too); of trials equal on both, the lowest
// index stands for them. Stopped, failed and duplicate trials are left out
// (a Stopped child trained fewer epochs; a duplicate is its source). by is
// ByFLOPs or ByParams.
func ParetoFront(recs []Record, by string) ([]Record, error) {
	cost := func(r Record) int64 { return r.FLOPs }
	switch by {
	case ByFLOPs:
	case ByParams:
		cost = func(r Record) int64 { return r.Params }
	default:
		return nil, fmt.Errorf("search: pareto: cost %q: want %s or %s", by, ByFLOPs, ByParams)
	}
	acc := func(r Record) float64 {
		best := 0.0
		for _, a := range r.ValAcc {
			best = max(best, a)
		}
		return best
	}
	var done []Record
	for _, r := range recs {
		if r.Status == Done {
			done = append(done, r)
		}
	}
	// Cheapest first; on equal cost the most accurate, then the lowest index.
	sort.SliceStable(done, func(i, j int) bool {
		a, b := done[i], done[j]
		if cost(a) != cost(b) {
			return cost(a) < cost(b)
		}
		if acc(a) != acc(b) {
			return acc(a) > acc(b)
		}
		return a.Index < b.Index
	})
	var front []Record
	for _, r := range done {
		// r is on the front when it is more accurate than every cheaper
		// (or equally cheap, earlier in this order) trial.
		if len(front) == 0 || acc(r) > acc(front[len(front)-1]) {
			front = append(front, r)
		}
	}
	return front, nil
}
