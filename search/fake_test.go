package search

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nas-project/nas/onnxgen"
)

// fakeEval is an evaluator with a known optimum: the reward of an
// architecture is the fraction of its decisions that equal a hidden target
// (every layer kh3 kw5 f48, fed by exactly the previous layer; layer 0 by
// the image). Some architectures fail by rule: a first layer of 1×1 kernels
// diverges, a layer of 7×7 kernels with 64 filters is oversized, and a
// first layer of kh7 kw1 returns an infrastructure error. It counts the
// evaluations of each architecture.
type fakeEval struct {
	mu    sync.Mutex
	calls map[string]int
	// fail, if set, decides the outcome of every architecture instead.
	fail func(a onnxgen.Arch) (Status, error)
}

func newFake() *fakeEval { return &fakeEval{calls: map[string]int{}} }

func targetReward(a onnxgen.Arch) float64 {
	match, total := 0, 0
	for i, l := range a.Layers {
		for _, ok := range []bool{l.KH == 3, l.KW == 5, l.Filters == 48} {
			total++
			if ok {
				match++
			}
		}
		in := map[int]bool{}
		for _, j := range l.Inputs {
			in[j] = true
		}
		for j := 0; j < i; j++ {
			total++
			if in[j] == (j == i-1) {
				match++
			}
		}
	}
	return float64(match) / float64(total)
}

func (f *fakeEval) Evaluate(ctx context.Context, t Trial) (Outcome, error) {
	f.mu.Lock()
	f.calls[t.Arch]++
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	a, err := onnxgen.SpaceV3Wide.ParseArch(t.Arch) // holds every architecture of v1, v2 and v3
	if err != nil {
		return Outcome{}, fmt.Errorf("fake: %w", err)
	}
	if f.fail != nil {
		st, err := f.fail(a)
		if err != nil || st != Done {
			return Outcome{Status: st, Reason: "fake says " + st.String()}, err
		}
	}
	l0 := a.Layers[0]
	switch {
	case l0.KH == 1 && l0.KW == 1:
		return Outcome{Status: Diverged, Reason: "loss is NaN"}, nil
	case l0.KH == 7 && l0.KW == 1:
		return Outcome{}, fmt.Errorf("worker lost")
	}
	for _, l := range a.Layers {
		if l.KH == 7 && l.KW == 7 && l.Filters == 64 {
			return Outcome{Status: Oversized, Reason: "too big", Params: 1 << 40}, nil
		}
	}
	r := targetReward(a)
	// Two epochs: r/2, then r; the first may be cut by early stopping.
	if len(t.StopBelow) > 0 && r/2 < t.StopBelow[0] {
		return Outcome{Status: Stopped, Reward: r / 2, ValAcc: []float64{r / 2}, Params: int64(len(t.Arch)), FLOPs: int64(t.Index),
			Reason: "below the median"}, nil
	}
	return Outcome{Status: Done, Reward: r, ValAcc: []float64{r / 2, r}, Params: int64(len(t.Arch)), FLOPs: int64(t.Index),
		Model: []byte("model of " + t.Arch)}, nil
}

func (f *fakeEval) count(arch string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[arch]
}

// testOptions: a small, fast search on v1 at a fixed depth.
func testOptions(strategy string, trials int) Options {
	return Options{
		Strategy:    strategy,
		Space:       "v1",
		M:           4,
		Trials:      trials,
		Schedule:    Schedule{StartLayers: 2, LayerEvery: 1 << 30},
		Seed:        42,
		MaxFailures: -1,
	}
}

func runSearch(t *testing.T, dir string, o Options, ev Evaluator, hook Hook) Summary {
	t.Helper()
	sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev, Hook: hook})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum
}

func readTrials(t *testing.T, dir string) []Record {
	t.Helper()
	_, recs, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
