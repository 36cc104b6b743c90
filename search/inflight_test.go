package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nas-project/nas/onnxgen"
)

// inFlightOptions: a search with duplicates (depth 1), early stopping and
// several iterations in flight.
func inFlightOptions(strategy string, d int) Options {
	o := testOptions(strategy, 30) // 7 full iterations and a partial one
	o.InFlight = d
	o.Parallel = 3
	o.Population = 8
	o.StartLayers = 1
	o.Controller.LR = 0.01
	o.Child.Epochs = 2
	o.EarlyStop = EarlyStop{On: true, MinTrials: 3}
	return o
}

// jittered is the fake evaluator with a delay of 0 to 3 ms per trial drawn
// from (seed, index): two seeds finish the trials in different orders.
func jittered(seed uint64) Evaluator {
	fake := newFake()
	return EvaluatorFunc(func(ctx context.Context, t Trial) (Outcome, error) {
		r := rand.New(rand.NewPCG(seed, uint64(t.Index)))
		time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
		return fake.Evaluate(ctx, t)
	})
}

// TestInFlightOneIsToday: InFlight 1 is the zero value's meaning: the same
// trials, checkpoint and best model as a run that leaves it unset, for
// every strategy (the equality with the code before InFlight existed is
// checked side by side, see the report of issue 13; cmd/nas's
// determinism check compares the binaries).
func TestInFlightOneIsToday(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyRandom, StrategyEvolution} {
		t.Run(strategy, func(t *testing.T) {
			unset := inFlightOptions(strategy, 0)
			ref := t.TempDir()
			sum := runSearch(t, ref, unset, newFake(), nil)
			if sum.Options.InFlight != 1 {
				t.Errorf("InFlight unset resolves to %d, want 1", sum.Options.InFlight)
			}
			dir := t.TempDir()
			runSearch(t, dir, inFlightOptions(strategy, 1), jittered(7), nil)
			compareRuns(t, ref, dir)
		})
	}
}

// sampledUpdates reads the sampled table: the updates count of each
// iteration recorded, by iteration.
func sampledUpdates(t *testing.T, dir string) map[int]int {
	t.Helper()
	s, err := openStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.hasSampled(); err != nil || !s.sampled {
		t.Fatalf("no sampled table (%v)", err)
	}
	rows, err := s.sampledRows()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for it, row := range rows {
		out[it] = row.updates
	}
	return out
}

// TestInFlightTimingIndependent: with D iterations in flight the results
// depend on D and the seed only: two runs whose trials take different,
// random times end with the same trials, rewards, controller checkpoint and
// best model; iteration j was sampled after max(0, j−D+1) applied
// iterations; and for rl and evolution the results differ from D = 1's
// (the later iterations are sampled from an older state).
func TestInFlightTimingIndependent(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyRandom, StrategyEvolution} {
		for _, d := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/D=%d", strategy, d), func(t *testing.T) {
				o := inFlightOptions(strategy, d)
				a, b := t.TempDir(), t.TempDir()
				runSearch(t, a, o, jittered(1), nil)
				runSearch(t, b, o, jittered(2), nil)
				compareRuns(t, a, b)
				ups := sampledUpdates(t, a)
				if len(ups) != 8 {
					t.Errorf("%d iterations recorded, want 8", len(ups))
				}
				for j, u := range ups {
					if want := max(0, j-d+1); u != want {
						t.Errorf("iteration %d sampled after %d updates, want %d", j, u, want)
					}
				}
				if strategy == StrategyRandom {
					return // proposals seeded by index: D changes nothing
				}
				one := t.TempDir()
				runSearch(t, one, inFlightOptions(strategy, 1), newFake(), nil)
				x, y := readTrials(t, one), readTrials(t, a)
				same := len(x) == len(y)
				for i := range min(len(x), len(y)) {
					same = same && x[i].Arch == y[i].Arch
				}
				if same {
					t.Errorf("D=%d proposes exactly D=1's architectures: the iterations were not sampled from the older state", d)
				}
			})
		}
	}
}

// TestInFlightOverlap: with D = 2 the next iteration's trials start while
// one of the first iteration is still training (the evaluator holds trial
// 0 until a trial of iteration 1 has started; with one iteration at a time
// it would wait for ever).
func TestInFlightOverlap(t *testing.T) {
	o := inFlightOptions(StrategyRandom, 2)
	o.Parallel = 8
	fake := newFake()
	next := make(chan struct{})
	var once sync.Once
	ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		if tr.Index == 0 {
			select {
			case <-next:
			case <-ctx.Done():
				return Outcome{}, ctx.Err()
			}
		}
		return fake.Evaluate(ctx, tr)
	})
	hook := func(e Event) {
		if s, ok := e.(*TrialStarted); ok && s.Trial.Iteration == 1 {
			once.Do(func() { close(next) })
		}
	}
	dir := t.TempDir()
	runSearch(t, dir, o, ev, hook)
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	compareRuns(t, ref, dir)
}

// TestInFlightResume: a run cancelled after k trials are committed, for
// several k, and resumed (each resume cancelled again after k more) ends
// as the run never interrupted, for every strategy and D in {2, 3}.
func TestInFlightResume(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyRandom, StrategyEvolution} {
		for _, d := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/D=%d", strategy, d), func(t *testing.T) {
				o := inFlightOptions(strategy, d)
				ref := t.TempDir()
				runSearch(t, ref, o, jittered(1), nil)
				for _, k := range []int{1, 3, 5, 9} {
					dir := t.TempDir()
					for run := 0; ; run++ {
						ctx, cancel := context.WithCancel(context.Background())
						n := 0
						hook := func(e Event) {
							if _, ok := e.(*TrialFinished); ok {
								if n++; n == k {
									cancel()
								}
							}
						}
						_, err := Run(ctx, Config{Dir: dir, Resume: run > 0, Options: o, Evaluator: jittered(uint64(10*k + run)), Hook: hook})
						cancel()
						if err == nil {
							break
						}
						if !errors.Is(err, context.Canceled) {
							t.Fatalf("k=%d, run %d: %v", k, run, err)
						}
						if run > 40 {
							t.Fatalf("k=%d: not done after %d resumes", k, run)
						}
					}
					compareRuns(t, ref, dir)
				}
			})
		}
	}
}

// TestInFlightSIGKILL: a search with D = 2, SIGKILLed at several points (a
// trial committed, a trial started, an iteration applied) and resumed
// each time, ends as the run never interrupted. The evaluator is Isolated:
// with iterations in flight some trial is training at every kill, and the
// rule that fails a trial running at two deaths (TestKilledTwice) is not
// what this test is about.
func TestInFlightSIGKILL(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyEvolution} {
		t.Run(strategy, func(t *testing.T) {
			o := inFlightOptions(strategy, 2)
			ref := t.TempDir()
			if err := helper(t, helperSpec{Dir: ref, Options: o, SleepMS: 1}).Wait(); err != nil {
				t.Fatalf("uninterrupted helper: %v", err)
			}
			dir := t.TempDir()
			for k, kill := range []string{"finished:5", "ran:1", "started:3", "ran:1", "iteration:1", "finished:4", "ran:1"} {
				wantKilled(t, helper(t, helperSpec{Dir: dir, Resume: k > 0, Options: o, Kill: kill, SleepMS: 1, Isolated: true}), kill)
			}
			if err := helper(t, helperSpec{Dir: dir, Resume: true, SleepMS: 1, Isolated: true}).Wait(); err != nil {
				t.Fatalf("final resume: %v", err)
			}
			compareRuns(t, ref, dir)
		})
	}
}

// TestInFlightDuplicateWaits: a trial whose architecture an earlier
// iteration's trial is still training waits for it and reuses its outcome
// (one evaluation; dup_of the earlier trial), as in the run where nothing
// waits.
func TestInFlightDuplicateWaits(t *testing.T) {
	o := inFlightOptions(StrategyRandom, 3)
	o.Parallel = 2 * o.M * o.InFlight
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	recs := readTrials(t, ref)
	// A duplicate j of trial i of an earlier iteration in flight with it,
	// and a trial of j's iteration that trains (not waiting for i).
	first, dup, other := -1, -1, -1
	for _, r := range recs {
		if r.Status != Duplicate || r.Iteration == recs[r.DupOf].Iteration || r.Iteration > recs[r.DupOf].Iteration+o.InFlight-1 {
			continue
		}
		i := r.DupOf
		for _, q := range recs[r.Iteration*o.M : r.Iteration*o.M+o.M] {
			if q.Status != Duplicate && q.Arch != recs[i].Arch && q.Error == "" {
				first, dup, other = i, r.Index, q.Index
				break
			}
		}
		if first >= 0 {
			break
		}
	}
	if first < 0 {
		t.Fatal("the reference run has no duplicate across iterations in flight: choose another seed")
	}
	fake := newFake()
	started := make(chan struct{})
	var once sync.Once
	ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		if tr.Index == first {
			select {
			case <-started: // trial other's iteration, and dup's, is sampled
			case <-ctx.Done():
				return Outcome{}, ctx.Err()
			}
		}
		return fake.Evaluate(ctx, tr)
	})
	hook := func(e Event) {
		if s, ok := e.(*TrialStarted); ok && s.Trial.Index == other {
			once.Do(func() { close(started) })
		}
	}
	dir := t.TempDir()
	runSearch(t, dir, o, ev, hook)
	compareRuns(t, ref, dir)
	got := readTrials(t, dir)[dup]
	if got.Status != Duplicate || got.DupOf != first || fake.count(recs[first].Arch) != 1 {
		t.Errorf("trial %d: %v dup of %d, %d evaluations of %s; want a duplicate of %d, one evaluation",
			dup, got.Status, got.DupOf, fake.count(recs[first].Arch), recs[first].Arch, first)
	}
}

// TestInFlightMaxFailures: consecutive failures stop a search with
// iterations in flight; the trials still training are cancelled, their
// rows left running with their attempt given back.
func TestInFlightMaxFailures(t *testing.T) {
	o := inFlightOptions(StrategyRL, 3)
	o.MaxFailures = 6
	o.Parallel = 12
	fake := newFake()
	fake.fail = func(onnxgen.Arch) (Status, error) { return Failed, errors.New("no GPU") }
	dir := t.TempDir()
	_, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: fake})
	if !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("Run: %v, want ErrTooManyFailures", err)
	}
	for _, r := range readTrials(t, dir) {
		if r.Status == Running && r.Attempts != 0 {
			t.Errorf("trial %d left running with %d attempts", r.Index, r.Attempts)
		}
	}
}

// TestInFlightDuration: a duration stop samples no further iteration and
// finishes those in flight: every sampled iteration is complete and
// applied.
func TestInFlightDuration(t *testing.T) {
	o := inFlightOptions(StrategyRL, 3)
	o.Trials = 0
	o.Duration = 150 * time.Millisecond
	fake := newFake()
	ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		time.Sleep(5 * time.Millisecond)
		return fake.Evaluate(ctx, tr)
	})
	dir := t.TempDir()
	iters := 0
	sum := runSearch(t, dir, o, ev, func(e Event) {
		if _, ok := e.(*IterationDone); ok {
			iters++
		}
	})
	recs := readTrials(t, dir)
	sampled := len(sampledUpdates(t, dir))
	if sum.Stop != "duration" || sampled < o.InFlight || len(recs) != sampled*o.M || iters != sampled {
		t.Fatalf("stop %q, %d trials, %d iterations sampled, %d applied; want every sampled iteration complete", sum.Stop, len(recs), sampled, iters)
	}
	for _, r := range recs {
		if r.Status == Running {
			t.Errorf("trial %d still running", r.Index)
		}
	}
}

// TestInFlightResumeOtherD: a resume asking for another number of
// iterations in flight is refused, the directory unchanged; asking for the
// stored one, or none, continues.
func TestInFlightResumeOtherD(t *testing.T) {
	o := inFlightOptions(StrategyRL, 2)
	o.Trials = 8
	dir := t.TempDir()
	runSearch(t, dir, o, newFake(), nil)
	_, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16, InFlight: 3}, Evaluator: newFake()})
	if err == nil || !strings.Contains(err.Error(), "2 iteration(s) in flight, not 3") {
		t.Fatalf("resume with D=3: %v", err)
	}
	if n := len(readTrials(t, dir)); n != 8 {
		t.Errorf("%d trials after the refused resume, want 8", n)
	}
	sum, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16, InFlight: 2}, Evaluator: newFake()})
	if err != nil || sum.Trials != 16 || sum.Options.InFlight != 2 {
		t.Fatalf("resume with D=2: %+v, %v", sum, err)
	}
}

// TestVersion5ContinuedSampled: a database of schema version 5 (no sampled
// table) resumes as before: the table is added, the version becomes 7,
// and the run ends as one never interrupted.
func TestVersion5ContinuedSampled(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyEvolution} {
		t.Run(strategy, func(t *testing.T) {
			o := inFlightOptions(strategy, 0)
			o.Trials = 24
			ref := t.TempDir()
			runSearch(t, ref, o, newFake(), nil)
			dir := t.TempDir()
			o.Trials = 10 // a partial iteration, re-proposed whole
			runSearch(t, dir, o, newFake(), nil)
			execSQL(t, dir, `DROP TABLE sampled`, `UPDATE run SET version = 5`)
			if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 24}, Evaluator: newFake()}); err != nil {
				t.Fatal(err)
			}
			compareRuns(t, ref, dir)
			if got := sampledUpdates(t, dir); len(got) == 0 {
				t.Errorf("no iteration recorded after the upgrade")
			}
		})
	}
}

// TestInFlightCancelKeepsOrder: cancelled when two iterations are
// complete and not applied (D = 2: the first's last trial is held until
// the second's trials are final), the search applies the first but not
// the second, whose update must come after the third iteration is
// sampled; the resume ends as the run never interrupted.
func TestInFlightCancelKeepsOrder(t *testing.T) {
	o := inFlightOptions(StrategyRL, 2)
	o.StartLayers = 2 // no duplicate between the first two iterations
	o.Parallel = 8
	o.EarlyStop = EarlyStop{}
	o.Controller.LR = 0.5 // one update changes what the controller samples
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	for _, r := range readTrials(t, ref)[4:8] {
		if r.Status == Duplicate {
			t.Fatalf("trial %d is a duplicate: choose another seed", r.Index)
		}
	}
	fake := newFake()
	second := make(chan struct{})
	ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		if tr.Index == 3 {
			select {
			case <-second:
			case <-ctx.Done():
				return Outcome{}, ctx.Err()
			}
		}
		return fake.Evaluate(ctx, tr)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finished := 0
	hook := func(e Event) {
		f, ok := e.(*TrialFinished)
		if !ok {
			return
		}
		if f.Record.Iteration == 1 {
			if finished++; finished == 4 {
				close(second)
			}
		}
		if f.Record.Index == 3 {
			cancel()
		}
	}
	dir := t.TempDir()
	if _, err := Run(ctx, Config{Dir: dir, Options: o, Evaluator: ev, Hook: hook}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want cancelled", err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	compareRuns(t, ref, dir)
}
