package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRungChild: η^r times rung 0's training: more images up to the whole
// split, then more epochs; the rest of the child options untouched.
func TestRungChild(t *testing.T) {
	for _, c := range []struct {
		name          string
		train, epochs int
		eta, rung     int
		scale         float64
		wantTrain     int
		wantEpochs    int
	}{
		{"rung 1: three times the images", 5000, 1, 3, 1, 12, 15000, 1},
		{"rung 2: nine times", 5000, 1, 3, 2, 12, 45000, 1},
		{"rung 3: past the split, the whole split for round(27/12) epochs", 5000, 1, 3, 3, 12, 0, 2},
		{"exactly the split: the whole split, the epochs kept", 600, 1, 2, 1, 2, 0, 1},
		{"the whole split already: more epochs", 0, 2, 3, 2, 0, 0, 18},
		{"a scale under eta^r never gives fewer epochs", 5000, 3, 2, 1, 1.5, 0, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Child: ChildOptions{TrainSize: c.train, Epochs: c.epochs, LR: 0.1, BatchNorm: true}, Rungs: MultiFidelity{Count: 3, Eta: c.eta}}
			got := o.RungChild(c.rung, c.scale)
			want := o.Child.WithDefaults()
			want.TrainSize, want.Epochs = c.wantTrain, c.wantEpochs
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("rung child (-want +got):\n%s", d)
			}
			if w, ew := o.work(got, c.scale), float64(ipow(c.eta, c.rung)); c.wantTrain > 0 && w != ew {
				t.Errorf("work %v, want eta^r = %v while the images grow", w, ew)
			}
		})
	}
}

// TestMultiFidelityValidate: the ranges, and the zero value is off.
func TestMultiFidelityValidate(t *testing.T) {
	for _, c := range []struct {
		m   MultiFidelity
		err string
	}{
		{MultiFidelity{}, ""},
		{MultiFidelity{Count: 2}, ""},
		{MultiFidelity{Count: -1}, "rungs -1"},
		{MultiFidelity{Count: 9}, "rungs 9"},
		{MultiFidelity{Count: 1, Eta: 1}, "eta 1"},
		{MultiFidelity{Eta: 3}, "without rungs"},
		{MultiFidelity{Count: 1, Max: -2}, "rung max -2"},
	} {
		err := c.m.Validate()
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: %v, want %q", c.m, err, c.err)
		}
	}
	if d := (MultiFidelity{Count: 2}).WithDefaults(); d.Eta != 3 || d.Max != 9 {
		t.Errorf("defaults %+v, want eta 3, max 9 (eta^rungs)", d)
	}
	if (Options{}).Rungs.On() {
		t.Error("the zero Options have rungs")
	}
}

// TestPromotion: rung 1 takes the best ⌈n0/η⌉ distinct Done trials by
// reward (lowest index on ties; duplicates, stopped and failed trials out),
// at most Max; rung 2 the best ⌈n1/η⌉ Done rows of rung 1 by accuracy,
// lower trial index on ties, failed rows out.
func TestPromotion(t *testing.T) {
	recs := []Record{
		{Index: 0, Arch: "a", Status: Done, Reward: 0.5},
		{Index: 1, Arch: "b", Status: Done, Reward: 0.7},
		{Index: 2, Arch: "a", Status: Duplicate, Reward: 0.5},
		{Index: 3, Arch: "c", Status: Stopped, Reward: 0.95},
		{Index: 4, Arch: "d", Status: Done, Reward: 0.7},
		{Index: 5, Arch: "e", Status: Failed},
		{Index: 6, Arch: "f", Status: Done, Reward: 0.2},
		{Index: 7, Arch: "g", Status: Done, Reward: 0.9},
		{Index: 8, Arch: "h", Status: Done, Reward: 0.1},
	}
	// Done and distinct: 7 (0.9), 1 and 4 (0.7, by index), 0, 6, 8: n0 = 6.
	rows := func(rs ...RungRecord) map[rungKey]RungRecord {
		m := map[rungKey]RungRecord{}
		for _, f := range rs {
			m[rungKey{f.Rung, f.Trial}] = f
		}
		return m
	}
	row := func(rung, trial int, st Status, acc float64) RungRecord {
		return RungRecord{Rung: rung, FinalRecord: FinalRecord{Trial: trial, Status: st, ValAcc: []float64{acc}}}
	}
	for _, c := range []struct {
		name  string
		m     MultiFidelity
		rung  int
		rungs map[rungKey]RungRecord
		want  []int
	}{
		{"eta 2: 3 of 6", MultiFidelity{Count: 2, Eta: 2, Max: 100}, 1, nil, []int{7, 1, 4}},
		{"eta 4: 2 of 6", MultiFidelity{Count: 2, Eta: 4, Max: 100}, 1, nil, []int{7, 1}},
		{"eta 2, max 2", MultiFidelity{Count: 2, Eta: 2, Max: 2}, 1, nil, []int{7, 1}},
		{"eta 5: 6/5 rounds up", MultiFidelity{Count: 1, Eta: 5, Max: 100}, 1, nil, []int{7, 1}},
		{"rung 2: by accuracy, ties by index, failed out; max is rung 1's", MultiFidelity{Count: 2, Eta: 2, Max: 1}, 2,
			rows(row(1, 7, Done, 0.6), row(1, 1, Done, 0.8), row(1, 4, Failed, 0.99), row(1, 0, Done, 0.6)), []int{1, 0}},
		{"rung 2 of nothing done", MultiFidelity{Count: 2, Eta: 2}, 2, rows(row(1, 7, Failed, 0)), []int{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := rungCandidates(recs, c.rungs, c.m, c.rung)
			if d := cmp.Diff(c.want, got, cmp.Comparer(func(a, b []int) bool { return slices.Equal(a, b) })); d != "" {
				t.Errorf("candidates (-want +got):\n%s", d)
			}
		})
	}
	// The highest fidelity wins: trial 0 (rung 2) before 1 (rung 1, better
	// accuracy), then the rung-0 trials by reward.
	rs := rows(row(1, 7, Done, 0.6), row(1, 1, Done, 0.8), row(1, 0, Done, 0.6), row(2, 0, Done, 0.5), row(2, 1, Failed, 0))
	var got []int
	for _, r := range fidelityRanking(recs, rs) {
		got = append(got, r.Index)
	}
	if d := cmp.Diff([]int{0, 1, 7, 4, 6, 8}, got); d != "" {
		t.Errorf("fidelity ranking (-want +got):\n%s", d)
	}
	if k := topRow(rs); k != (rungKey{2, 0}) {
		t.Errorf("top row %v, want rung 2, trial 0", k)
	}
}

// rungFake trains the promotions: its accuracy at rung r is the fake's
// target reward at odd rungs and 1 − it at even ones (so each rung
// re-ranks), read from the child options (TrainSize 100·η^r of a split of
// 100·scale; beyond it, the whole split). It records every call's rung,
// and checks the child is RungChild's.
type rungFake struct {
	t     *testing.T
	o     Options
	scale float64
	mu    sync.Mutex
	calls []rungKey
	// before, if set, runs first (e.g. to cancel the search).
	before func(ctx context.Context, k rungKey) error
}

func (f *rungFake) rungOf(c ChildOptions) int {
	for r := 1; r <= f.o.Rungs.Count; r++ {
		if want := f.o.RungChild(r, f.scale); cmp.Equal(c, want) {
			return r
		}
	}
	return -1
}

func (f *rungFake) Evaluate(ctx context.Context, tr Trial) (Outcome, error) {
	rung := f.rungOf(tr.Child)
	if rung < 0 || tr.Iteration != -1 || tr.Seed != TrialSeed(f.o.Seed, tr.Index) {
		f.t.Errorf("rung trial %d: child %+v, iteration %d, seed %d: not a rung's", tr.Index, tr.Child, tr.Iteration, tr.Seed)
	}
	k := rungKey{rung, tr.Index}
	f.mu.Lock()
	f.calls = append(f.calls, k)
	f.mu.Unlock()
	if f.before != nil {
		if err := f.before(ctx, k); err != nil {
			return Outcome{}, err
		}
	}
	acc := targetReward(mustParse(f.t, tr.Arch))
	if rung%2 == 0 {
		acc = 1 - acc
	}
	return Outcome{Status: Done, Reward: acc, ValAcc: []float64{acc / 2, acc}, Seconds: 1, Model: []byte(fmt.Sprintf("rung %d model of %s", rung, tr.Arch))}, nil
}

func (f *rungFake) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// rungOptions: 16 trials, two rungs of η 2 (at most 4 promoted to rung 1,
// so 2 to rung 2), children of 100 images of a split of 800.
func rungOptions(strategy string) Options {
	o := testOptions(strategy, 16)
	o.Child.TrainSize = 100
	o.Rungs = MultiFidelity{Count: 2, Eta: 2, Max: 4}
	return o
}

const rungScale = 8

// wantRungs are the rung rows a run over recs must end with, derived by
// hand: rung 1 the top 4 distinct Done trials by reward (index on ties),
// rung 2 the top 2 of those by 1 − target reward… at odd rungs the
// fake's accuracy is the target reward itself.
func wantRungs(t *testing.T, recs []Record) [][]int {
	var done []Record
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Status == Done && !seen[r.Arch] {
			seen[r.Arch] = true
			done = append(done, r)
		}
	}
	slices.SortStableFunc(done, func(a, b Record) int {
		switch {
		case a.Reward > b.Reward:
			return -1
		case a.Reward < b.Reward:
			return 1
		}
		return a.Index - b.Index
	})
	var r1 []int
	for _, r := range done[:min(4, (len(done)+1)/2)] {
		r1 = append(r1, r.Index)
	}
	acc := func(i int) float64 { return targetReward(mustParse(t, recs[i].Arch)) } // rung 1's
	by := slices.Clone(r1)
	slices.SortStableFunc(by, func(a, b int) int {
		switch {
		case acc(a) > acc(b):
			return -1
		case acc(a) < acc(b):
			return 1
		}
		return a - b
	})
	return [][]int{r1, by[:(len(by)+1)/2]}
}

// rungView is what two runs must agree on: every rung row's key, status,
// fidelity and accuracies, the final rows, and best.onnx.
type rungView struct {
	Rungs  []string
	Finals []string
	Best   string
	Trials []string
}

func viewRun(t *testing.T, dir string) rungView {
	t.Helper()
	st, err := ReadRunState(dir)
	if err != nil {
		t.Fatal(err)
	}
	var v rungView
	for _, f := range st.Rungs {
		v.Rungs = append(v.Rungs, fmt.Sprintf("rung %d trial %d rank %d %s %d images %d epochs %v attempts %d", f.Rung, f.Trial, f.Rank, f.Status, f.TrainSize, f.Epochs, f.ValAcc, f.Attempts))
	}
	for _, f := range st.Finals {
		v.Finals = append(v.Finals, fmt.Sprintf("trial %d rank %d %s %d epochs %v", f.Trial, f.Rank, f.Status, f.Epochs, f.ValAcc))
	}
	for _, r := range st.Trials {
		v.Trials = append(v.Trials, fmt.Sprintf("%d %s %s %v", r.Index, r.Arch, r.Status, r.Reward))
	}
	b, _ := os.ReadFile(filepath.Join(dir, BestFile))
	v.Best = string(b)
	return v
}

// TestRungsEveryStrategy: with each strategy, the trial table (rung 0, the
// rewards the strategy learns from) is a run's without rungs; rung 1 and 2
// hold the promotions wantRungs derives, trained with RungChild by the rung
// evaluator; best.onnx is the top rung's best model (rung_model), the best
// trial's search model stays in best_model.
func TestRungsEveryStrategy(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyRandom, StrategyEvolution} {
		t.Run(strategy, func(t *testing.T) {
			o := rungOptions(strategy)
			o.Population, o.Tournament = 4, 2
			plain := o
			plain.Rungs = MultiFidelity{}
			ref := t.TempDir()
			runSearch(t, ref, plain, newFake(), nil)
			dir := t.TempDir()
			rf := &rungFake{t: t, o: o.WithDefaults(), scale: rungScale}
			var events []Event
			sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: newFake(), RungEvaluator: rf, FinalScale: rungScale,
				Hook: func(e Event) { events = append(events, e) }})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(viewRun(t, ref).Trials, viewRun(t, dir).Trials); d != "" {
				t.Errorf("trials with rungs (-without +with):\n%s", d)
			}
			want := wantRungs(t, readTrials(t, dir))
			got := [][]int{{}, {}}
			for _, f := range sum.Rungs {
				got[f.Rung-1] = append(got[f.Rung-1], f.Trial)
				c := o.WithDefaults().RungChild(f.Rung, rungScale)
				if f.Status != Done || f.Attempts != 1 || f.TrainSize != c.TrainSize || f.Epochs != c.Epochs {
					t.Errorf("rung row %+v: want done, one attempt, %d images, %d epochs", f, c.TrainSize, c.Epochs)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("rungs (-want +got):\n%s", d)
			}
			if rf.total() != 6 {
				t.Errorf("%d rung trainings, want 6", rf.total())
			}
			top := want[1][0] // rung 2's best by its accuracy, 1 − the target reward
			for _, i := range want[1][1:] {
				if a, b := targetReward(mustParse(t, readTrials(t, dir)[i].Arch)), targetReward(mustParse(t, readTrials(t, dir)[top].Arch)); a < b || (a == b && i < top) {
					top = i
				}
			}
			wantModel := "rung 2 model of " + readTrials(t, dir)[top].Arch
			if sum.Top == nil || sum.Top.Trial != top || sum.Top.Rung != 2 {
				t.Errorf("top %+v, want trial %d at rung 2", sum.Top, top)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != wantModel {
				t.Errorf("best.onnx %q, want %q", b, wantModel)
			}
			if idx, m, err := ReadRungModel(dir); err != nil || idx != top || string(m) != wantModel {
				t.Errorf("ReadRungModel: %d %q %v", idx, m, err)
			}
			if idx, m, err := ReadBestModel(dir); err != nil || idx != sum.Best.Index || string(m) != "model of "+sum.Best.Arch {
				t.Errorf("ReadBestModel: %d %q %v; want the best trial's search model", idx, m, err)
			}
			st, _ := ReadRunState(dir)
			if idx, s, final := st.Model(); idx != top || s != ModelSum([]byte(wantModel)) || !final {
				t.Errorf("RunState.Model: %d %q %v", idx, s, final)
			}
			var started, finished, tops int
			for _, e := range events {
				switch e := e.(type) {
				case *RungStarted:
					started++
				case *RungFinished:
					finished++
					if e.Top {
						tops++
					}
				}
			}
			if started != 6 || finished != 6 || tops == 0 {
				t.Errorf("events: %d started, %d finished, %d new tops", started, finished, tops)
			}
		})
	}
}

// TestRungsThenFinal: the final phase's candidates are the first K of the
// highest rung's ranking (then the rung below's), not the search reward's.
func TestRungsThenFinal(t *testing.T) {
	o := rungOptions(StrategyRandom)
	o.Final = FinalTraining{K: 3, Epochs: 3}
	dir := t.TempDir()
	rf := &rungFake{t: t, o: o.WithDefaults(), scale: rungScale}
	ff := newFinalFake(t, 3)
	sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: newFake(), RungEvaluator: rf, FinalEvaluator: ff, FinalScale: rungScale})
	if err != nil {
		t.Fatal(err)
	}
	want := wantRungs(t, readTrials(t, dir))
	// Rung 2's two (by its accuracy: 1 − target), then rung 1's best other.
	acc2 := func(i int) float64 { return 1 - targetReward(mustParse(t, readTrials(t, dir)[i].Arch)) }
	r2 := slices.Clone(want[1])
	slices.SortStableFunc(r2, func(a, b int) int {
		switch {
		case acc2(a) > acc2(b):
			return -1
		case acc2(a) < acc2(b):
			return 1
		}
		return a - b
	})
	var rest []int
	for _, i := range want[0] {
		if !slices.Contains(r2, i) {
			rest = append(rest, i)
		}
	}
	wantFinal := append(r2, rest[0])
	var got []int
	for _, f := range sum.Finals {
		got = append(got, f.Trial)
	}
	if d := cmp.Diff(wantFinal, got); d != "" {
		t.Errorf("final candidates (-want +got):\n%s", d)
	}
	if sum.Final == nil || ff.total() != 3 {
		t.Fatalf("final %+v, %d final trainings", sum.Final, ff.total())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); !strings.HasPrefix(string(b), "final model of ") {
		t.Errorf("best.onnx %q: want the final model", b)
	}
}

// TestRungsResume: a search cancelled at the k-th rung training, or in the
// final phase, resumed without a new budget, ends with exactly the rows,
// accuracies and best.onnx of a run never interrupted; finished
// promotions are never trained again (each rung row has one attempt).
func TestRungsResume(t *testing.T) {
	o := rungOptions(StrategyRL)
	o.Final = FinalTraining{K: 2, Epochs: 3}
	ref := t.TempDir()
	if _, err := Run(context.Background(), Config{Dir: ref, Options: o, Evaluator: newFake(), RungEvaluator: &rungFake{t: t, o: o.WithDefaults(), scale: rungScale},
		FinalEvaluator: newFinalFake(t, 3), FinalScale: rungScale}); err != nil {
		t.Fatal(err)
	}
	want := viewRun(t, ref)
	for _, kill := range []int{1, 3, 4, 5, 6, 7} { // 7: the first final candidate
		t.Run(fmt.Sprint("kill at ", kill), func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			var mu sync.Mutex
			stop := func(c context.Context) error {
				mu.Lock()
				n++
				hit := n == kill
				mu.Unlock()
				if hit {
					cancel()
					<-c.Done()
					return c.Err()
				}
				return nil
			}
			rf := &rungFake{t: t, o: o.WithDefaults(), scale: rungScale, before: func(c context.Context, _ rungKey) error { return stop(c) }}
			ff := newFinalFake(t, 3)
			ff.before = func(c context.Context, _ Trial) error { return stop(c) }
			_, err := Run(ctx, Config{Dir: dir, Options: o, Evaluator: newFake(), RungEvaluator: rf, FinalEvaluator: ff, FinalScale: rungScale})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled at rung training %d: %v", kill, err)
			}
			before := min(kill-1, 6) // the promotions trained before the cancel
			rf2 := &rungFake{t: t, o: o.WithDefaults(), scale: rungScale}
			fake := newFake()
			sum, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: fake, RungEvaluator: rf2, FinalEvaluator: newFinalFake(t, 3), FinalScale: rungScale})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Stop != "final" || len(fake.calls) != 0 {
				t.Errorf("resume: stop %q, %d trial evaluations; want no sampling", sum.Stop, len(fake.calls))
			}
			if rf2.total() != 6-before {
				t.Errorf("resume trained %d promotions, want the %d left", rf2.total(), 6-before)
			}
			if d := cmp.Diff(want, viewRun(t, dir)); d != "" {
				t.Errorf("resumed run (-uninterrupted +resumed):\n%s", d)
			}
		})
	}
}

// TestRungsBudget: a duration the full plan does not fit: the final phase
// shrinks to one candidate, then the rungs are dropped from the top
// (recorded in the summary); the sampling stops after the first iteration
// (its reserve is the full plan's); a plan that fits is not touched.
func TestRungsBudget(t *testing.T) {
	for _, c := range []struct {
		name    string
		seconds float64
		rung2   bool
		finals  int
		shrunk  []string
	}{
		// 4 trials of 140 s: rung 1 promotes 2 (work 2, one at a time:
		// 2 × 2 × 140 s), rung 2 one (work 4), the final 2 of 8 × 3
		// epochs: 56 × 140 s in all. An hour: k 1 (32 × 140 s), no rung 2
		// (28 × 140), no rung 1 (24 × 140 = 3360 s) fits.
		{"the full plan is over two hours", 140, false, 1, []string{"rungs from 1 dropped", "k 2 -> 1, epochs 3 -> 3"}},
		{"the plan fits", 0.001, true, 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
				out, err := fake.Evaluate(ctx, tr)
				out.Seconds = c.seconds
				return out, err
			})
			o := rungOptions(StrategyRandom)
			o.Trials = 0
			if c.seconds < 1 {
				o.Trials = 16
			}
			o.Duration = time.Hour
			o.Final = FinalTraining{K: 2, Epochs: 3}
			rf := &rungFake{t: t, o: o.WithDefaults(), scale: rungScale}
			dir := t.TempDir()
			sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev, RungEvaluator: rf,
				FinalEvaluator: EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
					return Outcome{Status: Done, ValAcc: []float64{0.5}, Model: []byte("final")}, nil
				}), FinalScale: rungScale})
			if err != nil {
				t.Fatal(err)
			}
			hasRung2 := false
			for _, f := range sum.Rungs {
				hasRung2 = hasRung2 || f.Rung == 2
			}
			if hasRung2 != c.rung2 || len(sum.Finals) != c.finals || (!c.rung2 && len(sum.Rungs) != 0) {
				t.Errorf("rung 2 %v, %d rung rows, %d finals; want %v, %d", hasRung2, len(sum.Rungs), len(sum.Finals), c.rung2, c.finals)
			}
			if len(sum.Shrunk) != len(c.shrunk) {
				t.Fatalf("shrunk %q, want %q", sum.Shrunk, c.shrunk)
			}
			for i, s := range c.shrunk {
				if !strings.Contains(sum.Shrunk[i], s) {
					t.Errorf("shrunk %q, want %q", sum.Shrunk[i], s)
				}
			}
			if c.seconds >= 1 && (sum.Trials != 4 || sum.Stop != "duration") {
				t.Errorf("%d trials, stop %q: want the first iteration only", sum.Trials, sum.Stop)
			}
		})
	}
}

// TestSlowWinnersLast: the bug of the README's measured make search: the
// winners came in the last iteration and were slower than the candidates
// the reserve was computed for, and the final phase ran past the duration.
// Now the final phase is re-predicted with its own candidates when it
// starts and shrunk to fit what is left.
func TestSlowWinnersLast(t *testing.T) {
	fake := newFake()
	ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		out, err := fake.Evaluate(ctx, tr)
		out.Seconds = 1
		if tr.Iteration == 2 { // the last: slow, and the best
			out.Seconds, out.Reward = 2000, 2
		}
		return out, err
	})
	o := finalOptions(2, 3)
	o.Child.TrainSize = 100
	o.Duration = time.Hour
	ff := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		return Outcome{Status: Done, ValAcc: []float64{0.5}, Model: []byte("final")}, nil
	})
	// Scale 1.5: a final candidate of 3 epochs is 4.5 trials of its own;
	// the slow winners' 2 × 9000 s do not fit the hour, one of 1 epoch does.
	sum, err := Run(context.Background(), Config{Dir: t.TempDir(), Options: o, Evaluator: ev, FinalEvaluator: ff, FinalScale: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Trials != 12 || len(sum.Finals) != 1 || sum.Finals[0].Epochs != 1 || len(sum.Shrunk) != 1 {
		t.Errorf("%d trials, finals %+v, shrunk %q; want 12, one candidate of 1 epoch, shrunk once", sum.Trials, sum.Finals, sum.Shrunk)
	}
}

// TestPredictPhases: ⌈todo/parallel⌉ rounds of the slowest time × work per
// stage, a candidate with s > 1 slots slotSpeedup(s) times as fast.
func TestPredictPhases(t *testing.T) {
	for _, c := range []struct {
		name     string
		stages   []stageCost
		parallel int
		want     time.Duration
	}{
		{"one stage, one slot", []stageCost{{3, 3, 2}}, 1, 60 * time.Second},
		{"two slots: two rounds for three", []stageCost{{3, 3, 2}}, 2, 40 * time.Second},
		{"stages add up", []stageCost{{4, 4, 2}, {2, 2, 4}, {1, 2, 12}}, 2, (40 + 40 + 120) * time.Second},
		{"nothing to do", []stageCost{{0, 5, 5}}, 1, 0},
		// A lone candidate of two slots is slotSpeedup(2) = 1.6 times as
		// fast; its phase's n, not the todo left, sets its slots.
		{"a lone candidate takes both slots", []stageCost{{1, 1, 16}}, 2, 100 * time.Second},
		{"four slots over two", []stageCost{{2, 2, 16}}, 4, 100 * time.Second},
		{"one left of two keeps one slot", []stageCost{{1, 2, 16}}, 2, 160 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := predictPhases(c.stages, 10, c.parallel); got != c.want {
				t.Errorf("predicted %v, want %v", got, c.want)
			}
		})
	}
	p := plan{rungs: 2, k: 3, epochs: 4}
	for _, want := range []plan{{2, 2, 4}, {2, 1, 4}, {1, 1, 4}, {0, 1, 4}, {0, 1, 3}, {0, 1, 2}, {0, 1, 1}} {
		q, ok := shrink(p, 1)
		if !ok || q != want {
			t.Fatalf("shrink %+v: %+v %v, want %+v", p, q, ok, want)
		}
		p = q
	}
	if _, ok := shrink(p, 1); ok {
		t.Errorf("shrink %+v: more than the smallest plan", p)
	}
}

// TestVersion5Continued: a database of schema version 5 (no rung tables,
// no final epochs) reads (no rungs; its final rows of 0 epochs train with
// the run's) and resumes: the tables and the column are added, the
// version becomes 6, and the run ends as one never interrupted.
func TestVersion5Continued(t *testing.T) {
	o := finalOptions(2, 3)
	o.Trials = 16
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	dir := t.TempDir()
	o8 := o
	o8.Trials = 8
	runSearch(t, dir, o8, newFake(), nil)
	execSQL(t, dir, `DROP TABLE rung`, `DROP TABLE rung_model`, `ALTER TABLE final DROP COLUMN epochs`, `UPDATE run SET version = 5`)
	st, err := ReadRunState(dir)
	if err != nil || len(st.Trials) != 8 || st.Rungs != nil || st.RungModel != -1 || len(st.Finals) != 2 || st.Finals[0].Epochs != 0 {
		t.Fatalf("version 5: %d trials, rungs %v, rung model %d, finals %+v, %v", len(st.Trials), st.Rungs, st.RungModel, st.Finals, err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16}, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	compareRuns(t, ref, dir)
	s, err := openStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var v int
	if err := s.db.QueryRow(`SELECT version FROM run`).Scan(&v); err != nil || v != SchemaVersion || SchemaVersion != 7 || !s.rungs || !s.finalEpochs {
		t.Errorf("version %d (%v), rung tables %v, final epochs %v; want 7", v, err, s.rungs, s.finalEpochs)
	}
}

// TestSlowest: the time per unit of work is each trial's latest
// measurement (its highest Done rung's seconds over that rung's work, else
// its trial's seconds), the largest wins.
func TestSlowest(t *testing.T) {
	o := rungOptions(StrategyRandom).WithDefaults() // rung 1: 200 images (work 2), rung 2: 400 (work 4)
	row := func(rung, trial int, st Status, secs float64) RungRecord {
		c := o.RungChild(rung, rungScale)
		return RungRecord{Rung: rung, TrainSize: c.TrainSize, FinalRecord: FinalRecord{Trial: trial, Status: st, ValAcc: []float64{0.5}, Seconds: secs, Epochs: c.Epochs}}
	}
	r := &run{opts: o, cfg: Config{FinalScale: rungScale}, rungs: map[rungKey]RungRecord{}}
	for _, f := range []RungRecord{row(1, 0, Done, 8), row(1, 2, Done, 100), row(2, 2, Done, 20), row(1, 3, Failed, 1000)} {
		r.rungs[rungKey{f.Rung, f.Trial}] = f
	}
	recs := []Record{{Index: 0, Seconds: 10}, {Index: 1, Seconds: 3}, {Index: 2, Seconds: 1}, {Index: 3, Seconds: 2}}
	for _, c := range []struct {
		name string
		recs []Record
		want float64
	}{
		{"rung 1's 8 s over work 2", recs[:1], 4},
		{"a trial without rungs: its own seconds", recs[1:2], 3},
		{"the highest rung counts: rung 2's 20 s over 4, not rung 1's 100 over 2", recs[2:3], 5},
		{"a failed row is no measurement", recs[3:4], 2},
		{"the largest of all", recs, 5},
	} {
		if got := r.slowest(c.recs); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestFit: the plan fit chooses is predicted to fit the time left, and the
// one before its last shrink step is not (it shrinks no more than needed);
// the smallest plan is returned even when it does not fit; without a
// duration nothing is shrunk.
func TestFit(t *testing.T) {
	o := rungOptions(StrategyRandom)
	o.Final = FinalTraining{K: 3, Epochs: 4}
	o.Duration = time.Hour
	o = o.WithDefaults()
	var recs []Record
	var have []bool
	for i := range 8 {
		recs = append(recs, Record{Index: i, Arch: fmt.Sprint("a", i), Status: Done, Reward: float64(i) / 10, Seconds: 10 + float64(i)})
		have = append(have, true)
	}
	for _, c := range []struct {
		name    string
		elapsed time.Duration
	}{
		{"most of the hour left", 10 * time.Minute},
		{"half left", 30 * time.Minute},
		{"little left", 55 * time.Minute},
		{"almost nothing left", 3599 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &run{opts: o, cfg: Config{FinalScale: rungScale}, recs: recs, have: have, rungs: map[rungKey]RungRecord{},
				finals: map[int]FinalRecord{}, start: time.Now().Add(-c.elapsed)}
			p := r.fit(1)
			left := o.Duration - c.elapsed
			prev, q := o.fullPlan(), o.fullPlan()
			steps := 0
			for q != p {
				prev = q
				var ok bool
				if q, ok = shrink(q, 1); !ok {
					t.Fatalf("fit gave %+v, not reached by shrinking %+v", p, o.fullPlan())
				}
				steps++
			}
			_, smaller := shrink(p, 1)
			switch {
			case r.predict(p, 1, false) > left && smaller:
				t.Errorf("plan %+v predicted %v, over the %v left, though it could shrink", p, r.predict(p, 1, false), left)
			case steps > 0 && r.predict(prev, 1, false) <= left:
				t.Errorf("plan %+v shrunk one step too far: %+v (%v) fits the %v left", p, prev, r.predict(prev, 1, false), left)
			}
			t.Logf("%v left: %+v, predicted %v", left, p, r.predict(p, 1, false))
		})
	}
	r := &run{opts: o, cfg: Config{FinalScale: rungScale}, recs: recs, have: have, rungs: map[rungKey]RungRecord{}, finals: map[int]FinalRecord{}, start: time.Now()}
	r.opts.Duration = 0
	if p := r.fit(1); p != o.fullPlan() {
		t.Errorf("without a duration: %+v, want the full plan", p)
	}
}
