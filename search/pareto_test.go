package search

import (
	"slices"
	"testing"
)

// TestParetoFront: the trials no other beats on both accuracy and cost, by
// either metric, with one case per rule.
func TestParetoFront(t *testing.T) {
	rec := func(i int, s Status, acc float64, flops, params int64) Record {
		return Record{Index: i, Status: s, ValAcc: []float64{acc / 2, acc}, FLOPs: flops, Params: params}
	}
	recs := []Record{
		rec(0, Done, 0.80, 100, 10),
		rec(1, Done, 0.70, 200, 5),      // dominated by 0 in flops, the cheapest in params
		rec(2, Done, 0.90, 300, 30),     // on both fronts
		rec(3, Done, 0.90, 300, 30),     // equal to 2 on both: 2 stands for it
		rec(4, Stopped, 0.99, 50, 1),    // stopped: fewer epochs, left out
		rec(5, Failed, 0, 1, 1),         // failed: left out
		rec(6, Duplicate, 0.95, 10, 1),  // a duplicate is its source: left out
		rec(7, Done, 0.85, 300, 40),     // same flops as 2, less accurate: dominated
		rec(8, Done, 0.95, 1000, 20),    // the most accurate
		rec(9, Done, 0.80, 100, 8),      // ties 0 on flops and accuracy (0 stands); fewer params than 0
		rec(10, Done, 0.60, 2000, 2000), // dominated everywhere
	}
	for _, c := range []struct {
		by   string
		want []int
	}{
		{ByFLOPs, []int{0, 2, 8}},
		{ByParams, []int{1, 9, 8}},
	} {
		front, err := ParetoFront(recs, c.by)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, r := range front {
			got = append(got, r.Index)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("front by %s: trials %v, want %v", c.by, got, c.want)
		}
	}
	if _, err := ParetoFront(recs, "latency"); err == nil {
		t.Error("an unknown cost metric: no error")
	}
	if front, err := ParetoFront(nil, ByFLOPs); err != nil || len(front) != 0 {
		t.Errorf("no trials: %v, %v", front, err)
	}
}
