package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// remoteModels wraps fakeEval as an evaluator that keeps its models
// elsewhere (internal/dist's workers): Outcome.Model is nil and
// FetchModel returns "model of ARCH", or an error when lost. It records the trials fetched, and what Reconcile and
// Committed were told.
type remoteModels struct {
	*fakeEval
	lost bool

	mu        sync.Mutex
	fetched   []int
	final     []int
	committed []int
}

func (r *remoteModels) Evaluate(ctx context.Context, t Trial) (Outcome, error) {
	out, err := r.fakeEval.Evaluate(ctx, t)
	if err != nil || out.Status != Done {
		return out, err
	}
	out.Model = nil
	out.FetchModel = func(context.Context) ([]byte, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.fetched = append(r.fetched, t.Index)
		if r.lost {
			return nil, errors.New("its worker is gone")
		}
		return []byte("model of " + t.Arch), nil
	}
	return out, nil
}

func (r *remoteModels) Reconcile(_ context.Context, final []int) error {
	r.final = slices.Clone(final)
	return nil
}

func (r *remoteModels) Committed(i int) {
	r.mu.Lock()
	r.committed = append(r.committed, i)
	r.mu.Unlock()
}

// TestFetchModelOnlyForBest: the search asks for a model only when its
// trial becomes the best so far (once per BestChanged), and best.onnx is
// the best trial's; a model that cannot be fetched is recorded
// unavailable (empty) and the search goes on. A Reconciler is told the
// final trials at the start of a resume and each commit.
func TestFetchModelOnlyForBest(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(fmt.Sprintf("lost=%v", lose), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			ev := &remoteModels{fakeEval: newFake(), lost: lose}
			var bests []int
			hook := func(e Event) {
				if b, ok := e.(*BestChanged); ok {
					bests = append(bests, b.Record.Index)
				}
			}
			o := Options{Strategy: StrategyRandom, Space: "v1", M: 4, Trials: 8, Parallel: 1, Schedule: Schedule{StartLayers: 2}, Seed: 1, MaxFailures: -1}
			sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev, Hook: hook})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("the best changed at trials %v", bests)
			if !slices.Equal(ev.fetched, bests) || len(bests) < 2 {
				t.Errorf("models fetched for trials %v, the best changed at %v", ev.fetched, bests)
			}
			_, recs, _ := ReadRun(dir)
			done := 0
			for _, r := range recs {
				if r.Status == Done {
					done++
				}
			}
			if done <= len(ev.fetched) {
				t.Errorf("%d done trials, %d models fetched: want some done trials not fetched", done, len(ev.fetched))
			}
			if len(ev.committed) != 8 || ev.final != nil {
				t.Errorf("committed %v, final at the start %v: want 8 commits, no final trial", ev.committed, ev.final)
			}
			model, err := os.ReadFile(filepath.Join(dir, BestFile))
			want := "model of " + sum.Best.Arch
			if lose {
				want = "" // the best's model was lost: recorded unavailable
			}
			if sum.Trials != 8 {
				t.Errorf("%d trials, want 8", sum.Trials)
			}
			if err != nil || string(model) != want {
				t.Errorf("best.onnx %q, %v; want %q", model, err, want)
			}
			// A resume with a larger budget: the Reconciler hears which
			// trials are final.
			o.Trials = 12
			ev2 := &remoteModels{fakeEval: newFake()}
			if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 12}, Evaluator: ev2}); err != nil {
				t.Fatal(err)
			}
			if want := []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(ev2.final, want) {
				t.Errorf("reconciled with %v, want %v", ev2.final, want)
			}
		})
	}
}
