package search

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nas-project/nas/onnxgen"
)

// TestStrategies: every strategy runs its budget to a complete, contiguous
// trial table with valid statuses; best.onnx is the best Done trial's model.
func TestStrategies(t *testing.T) {
	for _, c := range []struct{ s, space string }{{StrategyRL, "v1"}, {StrategyRandom, "v1"}, {StrategyEvolution, "v1"}, {StrategyRL, "v2"}, {StrategyEvolution, "v2"},
		{StrategyRL, "v3"}, {StrategyRandom, "v3"}, {StrategyEvolution, "v3-wide"}} {
		s := c.s
		t.Run(s+"-"+c.space, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(s, 42) // 10 full iterations and a partial one
			o.Space = c.space
			o.Population = 8
			o.Tournament = 3
			var events []Event
			sum := runSearch(t, dir, o, newFake(), func(e Event) { events = append(events, e) })
			recs := readTrials(t, dir)
			if len(recs) != 42 || sum.Trials != 42 || sum.Ran != 42 || sum.Stop != "trials" {
				t.Fatalf("%d rows, summary %+v; want 42 trials stopped by the budget", len(recs), sum)
			}
			best := -1
			for i, r := range recs {
				if r.Index != i || r.Iteration != i/4 || r.Strategy != s || r.Layers != 2 {
					t.Errorf("row %d: %+v", i, r)
				}
				if r.Status == Running {
					t.Errorf("trial %d still running", i)
				}
				sp, _ := onnxgen.SpaceByName(c.space)
				if a, err := sp.ParseArch(r.Arch); err != nil || onnxgen.Format(a) != r.Arch {
					t.Errorf("trial %d: %v", i, err)
				}
				if r.Seed != TrialSeed(42, i) {
					t.Errorf("trial %d: seed %d", i, r.Seed)
				}
				if r.Status == Done && (best < 0 || r.Reward > recs[best].Reward) {
					best = i
				}
			}
			if best < 0 || sum.Best == nil || sum.Best.Index != best {
				t.Fatalf("best %d, summary's %+v", best, sum.Best)
			}
			got, err := os.ReadFile(filepath.Join(dir, BestFile))
			if err != nil {
				t.Fatal(err)
			}
			if want := "model of " + recs[best].Arch; string(got) != want {
				t.Errorf("best.onnx = %q, want %q", got, want)
			}
			var started, finished, iters, bests int
			for _, e := range events {
				switch e := e.(type) {
				case *TrialStarted:
					started++
				case *TrialFinished:
					finished++
				case *IterationDone:
					iters++
					if want := s == StrategyRL && e.Trials == 4; e.Updated != want {
						t.Errorf("iteration %d: updated %v, want %v", e.Iteration, e.Updated, want)
					}
				case *BestChanged:
					bests++
				}
			}
			if finished != 42 || iters != 11 || bests < 1 || started > 42 {
				t.Errorf("events: %d started, %d finished, %d iterations, %d best changes", started, finished, iters, bests)
			}
			_, err = os.Stat(filepath.Join(dir, CheckpointFile))
			if (s == StrategyRL) != (err == nil) {
				t.Errorf("checkpoint: %v", err)
			}
		})
	}
}

// TestRLImproves: on the fake evaluator's known optimum, the controller's
// mean reward rises far above the uniform sampler's.
func TestRLImproves(t *testing.T) {
	trials := 1200
	if testing.Short() {
		trials = 600
	}
	mean := func(recs []Record) float64 {
		s := 0.0
		for _, r := range recs {
			s += r.Reward
		}
		return s / float64(len(recs))
	}
	o := testOptions(StrategyRL, trials)
	o.Controller.LR = 0.005
	o.Controller.EntropyWeight = 0.005
	o.Controller.ClipNorm = 5
	dir := t.TempDir()
	runSearch(t, dir, o, newFake(), nil)
	rl := readTrials(t, dir)
	dirR := t.TempDir()
	runSearch(t, dirR, testOptions(StrategyRandom, 200), newFake(), nil)
	rnd := mean(readTrials(t, dirR))
	first, last := mean(rl[:100]), mean(rl[len(rl)-100:])
	t.Logf("random %.3f; rl first 100 trials %.3f, last 100 %.3f", rnd, first, last)
	if last < rnd+0.5*(1-rnd) {
		t.Errorf("rl's last 100 trials average %.3f, want ≥ %.3f (random %.3f)", last, rnd+0.5*(1-rnd), rnd)
	}
}

// TestDuplicates: identical canonical architectures are evaluated once;
// later ones reuse the first outcome (status duplicate, dup_of, reward).
func TestDuplicates(t *testing.T) {
	o := testOptions(StrategyRandom, 120)
	o.StartLayers = 1 // 64 architectures: many repeats
	o.Parallel = 3
	ev := newFake()
	dir := t.TempDir()
	runSearch(t, dir, o, ev, nil)
	recs := readTrials(t, dir)
	dups := 0
	first := map[string]int{}
	for _, r := range recs {
		j, seen := first[r.Arch]
		if !seen {
			if r.Status == Duplicate {
				t.Errorf("trial %d: duplicate of nothing", r.Index)
			}
			if r.Status != Failed {
				first[r.Arch] = r.Index
			}
			continue
		}
		if r.Status != Duplicate || r.DupOf != j || r.Reward != recs[j].Reward {
			t.Errorf("trial %d (%s): status %v dup_of %d reward %v; want duplicate of %d (reward %v)", r.Index, r.Arch, r.Status, r.DupOf, r.Reward, j, recs[j].Reward)
		}
		dups++
	}
	for a := range first {
		if n := ev.count(a); n != 1 {
			t.Errorf("%s evaluated %d times", a, n)
		}
	}
	if dups < 30 {
		t.Errorf("only %d duplicates among 120 draws of 64 architectures", dups)
	}
}

// TestFailuresRecorded: diverged, oversized and infrastructure failures are
// recorded with the penalty and a reason, and the search goes on.
func TestFailuresRecorded(t *testing.T) {
	o := testOptions(StrategyRandom, 160)
	o.Penalty = -0.25
	dir := t.TempDir()
	runSearch(t, dir, o, newFake(), nil)
	seen := map[Status]int{}
	for _, r := range readTrials(t, dir) {
		st := r.Status
		if st == Duplicate {
			continue
		}
		seen[st]++
		if st == Done {
			continue
		}
		if r.Reward != -0.25 || r.Error == "" {
			t.Errorf("trial %d: %v with reward %v, error %q", r.Index, st, r.Reward, r.Error)
		}
		a, _ := onnxgen.Parse(r.Arch)
		l0 := a.Layers[0]
		switch {
		case st == Diverged && !(l0.KH == 1 && l0.KW == 1):
			t.Errorf("trial %d: %v for %s", r.Index, st, r.Arch)
		case st == Failed && !strings.Contains(r.Error, "worker lost"):
			t.Errorf("trial %d: failed with %q", r.Index, r.Error)
		}
	}
	for _, st := range []Status{Done, Diverged, Oversized, Failed} {
		if seen[st] == 0 {
			t.Errorf("no %v trial in 160 random ones: %v", st, seen)
		}
	}
}

// TestMaxFailures: N consecutive failures stop the search with a clear
// error, after exactly the iteration that reached N.
func TestMaxFailures(t *testing.T) {
	o := testOptions(StrategyRL, 100)
	o.MaxFailures = 6
	ev := newFake()
	ev.fail = func(onnxgen.Arch) (Status, error) { return Diverged, nil }
	dir := t.TempDir()
	_, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev})
	if !errors.Is(err, ErrTooManyFailures) || !strings.Contains(err.Error(), "the last 8 trials failed") {
		t.Fatalf("err = %v, want ErrTooManyFailures after 8 trials", err)
	}
	if n := len(readTrials(t, dir)); n != 8 {
		t.Errorf("%d rows, want 8 (two iterations of 4)", n)
	}
	// A failure that ends a streak: a success in between resets it.
	ev.fail = func(a onnxgen.Arch) (Status, error) {
		if a.Layers[0].KH == 3 {
			return Done, nil
		}
		return Failed, nil
	}
	o.MaxFailures = 12
	o.Trials = 40
	if _, err := Run(context.Background(), Config{Dir: t.TempDir(), Options: o, Evaluator: ev}); err != nil {
		t.Errorf("search with interspersed successes stopped: %v", err)
	}
}

// TestRunErrors: invalid options, reusing a directory, resuming nothing.
func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := []struct {
		name string
		o    Options
		want string
	}{
		{"no budget", Options{}, "no budget"},
		{"strategy", Options{Trials: 1, Strategy: "annealing"}, "unknown strategy"},
		{"space", Options{Trials: 1, Space: "v9"}, "unknown search space"},
		{"start layers", Options{Trials: 1, Schedule: Schedule{StartLayers: 16}}, "start layers 16"},
		{"tournament", Options{Trials: 1, Population: 4, Tournament: 5}, "tournament 5"},
		{"momentum", Options{Trials: 1, Child: ChildOptions{Momentum: Float(1)}}, "momentum 1"},
		{"nesterov without momentum", Options{Trials: 1, Child: ChildOptions{Momentum: Float(0), Nesterov: true}}, "Nesterov"},
		{"kind", Options{Trials: 1, Kind: "gan"}, "unknown kind of child"},
	}
	for _, c := range bad {
		_, err := Run(context.Background(), Config{Dir: filepath.Join(dir, c.name), Options: c.o, Evaluator: newFake()})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "search: ") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	d := filepath.Join(dir, "run")
	runSearch(t, d, testOptions(StrategyRandom, 4), newFake(), nil)
	if _, err := Run(context.Background(), Config{Dir: d, Options: testOptions(StrategyRandom, 4), Evaluator: newFake()}); err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("second run in the same directory: %v", err)
	}
	if _, err := Run(context.Background(), Config{Dir: filepath.Join(dir, "none"), Resume: true, Evaluator: newFake()}); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("resume of nothing: %v", err)
	}
}

// TestCancel: cancelling leaves a resumable directory; the resumed run
// completes with every trial once.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(StrategyRL, 24)
	o.Parallel = 2
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Run(ctx, Config{Dir: dir, Options: o, Evaluator: newFake(), Hook: func(e Event) {
		if _, ok := e.(*TrialFinished); ok {
			if n++; n == 9 {
				cancel()
			}
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	compareRuns(t, ref, dir)
}

// compareRuns checks that two run directories hold the same trials (index,
// architecture, status, reward, dup_of), the same controller checkpoint
// and the same best model.
func compareRuns(t *testing.T, want, got string) {
	t.Helper()
	w, g := readTrials(t, want), readTrials(t, got)
	if len(w) != len(g) {
		t.Errorf("%d trials, want %d", len(g), len(w))
	}
	for i := range min(len(w), len(g)) {
		a, b := w[i], g[i]
		if a.Index != b.Index || a.Arch != b.Arch || a.Status != b.Status || a.Reward != b.Reward || a.DupOf != b.DupOf || a.Iteration != b.Iteration {
			t.Errorf("trial %d: got %d %s %v %v dup %d, want %d %s %v %v dup %d", i, b.Index, b.Arch, b.Status, b.Reward, b.DupOf, a.Index, a.Arch, a.Status, a.Reward, a.DupOf)
		}
	}
	for _, f := range []string{CheckpointFile, BestFile} {
		x, errW := os.ReadFile(filepath.Join(want, f))
		y, errG := os.ReadFile(filepath.Join(got, f))
		if (errW == nil) != (errG == nil) || !bytes.Equal(x, y) {
			t.Errorf("%s differs (%d vs %d bytes; %v, %v)", f, len(y), len(x), errG, errW)
		}
	}
}
