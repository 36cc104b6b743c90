package search

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFinalRecord: the rules that turn an evaluator's answer into a trial's
// record, one case per rule.
func TestFinalRecord(t *testing.T) {
	base := Record{Index: 3, Iteration: 0, Arch: "kh3 kw3 f24", Layers: 1, Strategy: "rl", DupOf: -1}
	best := &Record{Index: 1, Status: Done, Reward: 0.5}
	plain := Options{Penalty: -0.25}
	sized := Options{Penalty: -0.25, Cost: CostObjective{Metric: CostFLOPs, Target: 1000, Weight: -1}}
	model := []byte("onnx")
	with := func(r Record, f func(*Record)) Record { f(&r); return r }
	measured := func(r *Record) { r.ValAcc, r.Params, r.FLOPs, r.Seconds = []float64{0.8}, 10, 2000, 1.5 }
	cases := []struct {
		why       string
		out       Outcome
		err       error
		opts      Options
		best      *Record
		want      Record
		wantModel []byte
	}{
		{"an evaluator error is a failure with the penalty and the error's text",
			Outcome{}, errors.New("worker lost"), plain, best,
			with(base, func(r *Record) { r.Status, r.Reward, r.Error = Failed, -0.25, "worker lost" }), nil},
		{"done and better than the best: its reward, and its model becomes the best",
			Outcome{Status: Done, Reward: 0.6, ValAcc: []float64{0.8}, Params: 10, FLOPs: 2000, Seconds: 1.5, Model: model}, nil, plain, best,
			with(base, func(r *Record) { measured(r); r.Status, r.Reward = Done, 0.6 }), model},
		{"done and the first: the model is kept even when the evaluator gave none (empty)",
			Outcome{Status: Done, Reward: 0.1}, nil, plain, nil,
			with(base, func(r *Record) { r.Status, r.Reward = Done, 0.1 }), []byte{}},
		{"done but not better: no model",
			Outcome{Status: Done, Reward: 0.4, Model: model}, nil, plain, best,
			with(base, func(r *Record) { r.Status, r.Reward = Done, 0.4 }), nil},
		{"a tie loses to the earlier trial",
			Outcome{Status: Done, Reward: 0.5, Model: model}, nil, plain, best,
			with(base, func(r *Record) { r.Status, r.Reward = Done, 0.5 }), nil},
		{"the cost objective scales the reward: twice the target at w = -1 halves it",
			Outcome{Status: Done, Reward: 0.6, ValAcc: []float64{0.8}, Params: 10, FLOPs: 2000, Seconds: 1.5, Model: model}, nil, sized, nil,
			with(base, func(r *Record) { measured(r); r.Status, r.Reward = Done, 0.3 }), model},
		{"a cost that cannot be computed is a failure",
			Outcome{Status: Done, Reward: 0.6, FLOPs: 0}, nil, sized, nil,
			with(base, func(r *Record) {
				r.Status, r.Reward = Failed, -0.25
				_, err := sized.Cost.apply(0.6, 0, 0)
				r.Error = err.Error()
			}), nil},
		{"stopped: its reward and its reason, never a model",
			Outcome{Status: Stopped, Reward: 0.7, Reason: "below the median", Model: model}, nil, plain, nil,
			with(base, func(r *Record) { r.Status, r.Reward, r.Error = Stopped, 0.7, "below the median" }), nil},
		{"diverged: the penalty and the reason",
			Outcome{Status: Diverged, Reward: 0.9, Reason: "loss NaN"}, nil, plain, best,
			with(base, func(r *Record) { r.Status, r.Reward, r.Error = Diverged, -0.25, "loss NaN" }), nil},
		{"oversized: the penalty and the reason",
			Outcome{Status: Oversized, Reason: "too big"}, nil, plain, best,
			with(base, func(r *Record) { r.Status, r.Reward, r.Error = Oversized, -0.25, "too big" }), nil},
		{"done with a non-finite reward is a failure saying what came back",
			Outcome{Status: Done, Reward: math.NaN(), Reason: "?"}, nil, plain, best,
			with(base, func(r *Record) {
				r.Status, r.Reward, r.Error = Failed, -0.25, "evaluator returned status done, reward NaN: ?"
			}), nil},
		{"a status an evaluator may not return is a failure",
			Outcome{Status: Duplicate, Reward: 0.9}, nil, plain, best,
			with(base, func(r *Record) {
				r.Status, r.Reward, r.Error = Failed, -0.25, "evaluator returned status duplicate, reward 0.9: "
			}), nil},
	}
	for _, c := range cases {
		got, m := finalRecord(base, c.out, c.err, c.opts, c.best)
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: record (-want +got):\n%s", c.why, d)
		}
		if (m == nil) != (c.wantModel == nil) || string(m) != string(c.wantModel) {
			t.Errorf("%s: model %q, want %q", c.why, m, c.wantModel)
		}
	}
}

// TestProposalAndDuplicate: a proposal outside the space fails with the
// penalty; a duplicate reuses its source's outcome and points at it.
func TestProposalAndDuplicate(t *testing.T) {
	base := Record{Index: 5, Arch: "x", DupOf: -1}
	got := proposalFailed(base, errors.New("token 0: bad"), Options{Penalty: -1})
	if got.Status != Failed || got.Reward != -1 || got.Error != "token 0: bad" {
		t.Errorf("proposal failure: %+v", got)
	}
	src := Record{Index: 2, Status: Done, Reward: 0.7, ValAcc: []float64{0.9}, Params: 3, FLOPs: 4, Error: ""}
	got = duplicateOf(base, src, 2)
	want := Record{Index: 5, Arch: "x", DupOf: 2, Status: Duplicate, Reward: 0.7, ValAcc: []float64{0.9}, Params: 3, FLOPs: 4}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("duplicate (-want +got):\n%s", d)
	}
}
