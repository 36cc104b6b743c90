package search

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nas-project/nas/onnxgen"
)

// finalFake is the final phase's evaluator: a candidate's validation
// accuracy is 1 − the fake's search reward (so the pick is not simply the
// best trial: longer training changes the ranking), its model names it. It
// counts its calls by trial index and checks it is handed the final child
// options.
type finalFake struct {
	t      *testing.T
	epochs int
	mu     sync.Mutex
	calls  map[int]int
	slots  map[int]int // each trial's Trial.Slots, as last handed over
	// before, if set, runs first (e.g. to cancel the search).
	before func(ctx context.Context, tr Trial) error
}

func newFinalFake(t *testing.T, epochs int) *finalFake {
	return &finalFake{t: t, epochs: epochs, calls: map[int]int{}, slots: map[int]int{}}
}

func (f *finalFake) Evaluate(ctx context.Context, tr Trial) (Outcome, error) {
	f.mu.Lock()
	f.calls[tr.Index]++
	f.slots[tr.Index] = tr.Slots
	f.mu.Unlock()
	if c := tr.Child; c.Epochs != f.epochs || !c.CosineLR || c.TrainSize != 0 || tr.Iteration != -1 {
		f.t.Errorf("final trial %d: child %+v, iteration %d; want %d epochs, cosine, the whole training split, iteration -1", tr.Index, c, tr.Iteration, f.epochs)
	}
	if f.before != nil {
		if err := f.before(ctx, tr); err != nil {
			return Outcome{}, err
		}
	}
	a, err := onnxgen.SpaceV3Wide.ParseArch(tr.Arch)
	if err != nil {
		return Outcome{}, err
	}
	acc := 1 - targetReward(a)
	return Outcome{Status: Done, Reward: acc, ValAcc: []float64{acc / 2, acc}, Seconds: 1, Model: []byte("final model of " + tr.Arch)}, nil
}

func (f *finalFake) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// TestFinalCandidates: the top k Done trials by reward (lowest index on
// ties), one per architecture; nothing else is a candidate.
func TestFinalCandidates(t *testing.T) {
	recs := []Record{
		{Index: 0, Arch: "a", Status: Done, Reward: 0.5},
		{Index: 1, Arch: "b", Status: Done, Reward: 0.7},
		{Index: 2, Arch: "a", Status: Duplicate, Reward: 0.9},
		{Index: 3, Arch: "c", Status: Stopped, Reward: 0.95},
		{Index: 4, Arch: "d", Status: Done, Reward: 0.7},
		{Index: 5, Arch: "b", Status: Done, Reward: 0.6}, // b again (cannot happen today): the better one stands
		{Index: 6, Arch: "e", Status: Failed, Reward: 1},
		{},
	}
	for _, c := range []struct {
		name string
		k    int
		want []int
	}{
		{"k 1: the best, lowest index on ties", 1, []int{1}},
		{"k 3: one per architecture, stopped and duplicates out", 3, []int{1, 4, 0}},
		{"k above the done trials: all of them", 9, []int{1, 4, 0}},
		{"k 0: none", 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []int
			for _, r := range finalCandidates(recs, c.k) {
				got = append(got, r.Index)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("candidates (-want +got):\n%s", d)
			}
		})
	}
}

// TestChosenFinal: the best last-epoch accuracy of a Done candidate, then
// the lower rank; pending and failed candidates never.
func TestChosenFinal(t *testing.T) {
	for _, c := range []struct {
		name   string
		finals []FinalRecord
		want   int
	}{
		{"none", nil, -1},
		{"only pending and failed", []FinalRecord{{Trial: 3, Status: Running}, {Trial: 4, Status: Failed, ValAcc: []float64{0.9}}}, -1},
		{"the last epoch counts, not the best one", []FinalRecord{
			{Trial: 3, Rank: 0, Status: Done, ValAcc: []float64{0.95, 0.80}},
			{Trial: 4, Rank: 1, Status: Done, ValAcc: []float64{0.70, 0.85}}}, 4},
		{"a tie goes to the lower rank", []FinalRecord{
			{Trial: 9, Rank: 1, Status: Done, ValAcc: []float64{0.8}},
			{Trial: 5, Rank: 0, Status: Done, ValAcc: []float64{0.8}}}, 5},
		{"no accuracy: never", []FinalRecord{{Trial: 1, Status: Done}}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := map[int]FinalRecord{}
			for _, f := range c.finals {
				m[f.Trial] = f
			}
			if got := chosenFinal(m); got != c.want {
				t.Errorf("chosen %d, want %d", got, c.want)
			}
		})
	}
}

// TestFinalOutcome: the rule from an evaluator's answer to a candidate's row.
func TestFinalOutcome(t *testing.T) {
	for _, c := range []struct {
		name   string
		out    Outcome
		err    error
		status Status
		errSub string
	}{
		{"done", Outcome{Status: Done, ValAcc: []float64{0.5, 0.9}}, nil, Done, ""},
		{"an evaluator error", Outcome{}, errors.New("worker lost"), Failed, "worker lost"},
		{"diverged keeps its reason", Outcome{Status: Diverged, Reason: "loss is NaN"}, nil, Diverged, "loss is NaN"},
		{"done without accuracies", Outcome{Status: Done}, nil, Failed, "0 validation accuracies"},
		{"a NaN accuracy", Outcome{Status: Done, ValAcc: []float64{math.NaN()}}, nil, Failed, "evaluator returned"},
		{"stopped is not a final status", Outcome{Status: Stopped, ValAcc: []float64{0.5}}, nil, Failed, "status stopped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := finalOutcome(FinalRecord{Trial: 1, Status: Running}, c.out, c.err)
			if f.Status != c.status || !strings.Contains(f.Error, c.errSub) || (c.errSub == "") != (f.Error == "") {
				t.Errorf("status %v, error %q; want %v, an error with %q", f.Status, f.Error, c.status, c.errSub)
			}
		})
	}
}

func finalOptions(k, epochs int) Options {
	o := testOptions(StrategyRandom, 12)
	o.Final = FinalTraining{K: k, Epochs: epochs}
	return o
}

// TestFinalPhase: after the trials, the top k distinct Done architectures
// are trained with the final child options; the best by validation
// accuracy becomes the run's model (final_model, best.onnx), the trial
// table and its best model are those of a run without the final phase, and
// the Options' zero value has none.
func TestFinalPhase(t *testing.T) {
	ref := t.TempDir()
	runSearch(t, ref, testOptions(StrategyRandom, 12), newFake(), nil)
	dir := t.TempDir()
	ff := newFinalFake(t, 3)
	var events []Event
	sum, err := Run(context.Background(), Config{Dir: dir, Options: finalOptions(2, 3), Evaluator: newFake(), FinalEvaluator: ff,
		Hook: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	// The trials are a run's without the final phase (best.onnx is not:
	// it holds the final model).
	type row struct {
		Arch   string
		Status Status
		Reward float64
	}
	var want, got []row
	for _, r := range readTrials(t, ref) {
		want = append(want, row{r.Arch, r.Status, r.Reward})
	}
	for _, r := range readTrials(t, dir) {
		got = append(got, row{r.Arch, r.Status, r.Reward})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("trials with the final phase (-without +with):\n%s", d)
	}
	cands := finalCandidates(readTrials(t, dir), 2)
	if len(cands) != 2 || len(sum.Finals) != 2 || ff.total() != 2 {
		t.Fatalf("%d candidates, %d finals in the summary, %d final trainings; want 2 each", len(cands), len(sum.Finals), ff.total())
	}
	pick := cands[0]
	if targetReward(mustParse(t, cands[1].Arch)) < targetReward(mustParse(t, cands[0].Arch)) {
		pick = cands[1] // the fake's final accuracy is 1 − its search reward
	}
	if sum.Final == nil || sum.Final.Trial != pick.Index || sum.Best == nil || sum.Best.Index != cands[0].Index {
		t.Fatalf("final %+v, best %+v; want the final trial %d, the best trial %d", sum.Final, sum.Best, pick.Index, cands[0].Index)
	}
	for rank, f := range sum.Finals {
		if f.Trial != cands[rank].Index || f.Rank != rank || f.Status != Done || f.Attempts != 1 || f.Seed != cands[rank].Seed {
			t.Errorf("final %d: %+v; want trial %d's, rank %d, done, one attempt, its seed", rank, f, cands[rank].Index, rank)
		}
	}
	wantModel := "final model of " + pick.Arch
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != wantModel {
		t.Errorf("best.onnx = %q, want %q", b, wantModel)
	}
	if idx, m, err := ReadFinalModel(dir); err != nil || idx != pick.Index || string(m) != wantModel {
		t.Errorf("ReadFinalModel: %d %q %v", idx, m, err)
	}
	if idx, m, err := ReadBestModel(dir); err != nil || idx != cands[0].Index || string(m) != "model of "+cands[0].Arch {
		t.Errorf("ReadBestModel: %d %q %v; want the best trial's search model", idx, m, err)
	}
	st, err := ReadRunState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if idx, s, final := st.Model(); idx != pick.Index || s != ModelSum([]byte(wantModel)) || !final || len(st.Finals) != 2 {
		t.Errorf("RunState.Model: %d %q %v, %d finals", idx, s, final, len(st.Finals))
	}
	var started, finished int
	for _, e := range events {
		switch e.(type) {
		case *FinalStarted:
			started++
		case *FinalFinished:
			finished++
		}
	}
	if started != 2 || finished != 2 {
		t.Errorf("events: %d FinalStarted, %d FinalFinished; want 2 each", started, finished)
	}
	// The zero value: no final phase, best.onnx is the best trial's model.
	if st, _ := ReadRunState(ref); len(st.Finals) != 0 || st.FinalModel != -1 {
		t.Errorf("a run without final training has finals %v, final model %d", st.Finals, st.FinalModel)
	}
	if (Options{}).Final.On() {
		t.Error("the zero Options have a final phase")
	}
}

func mustParse(t *testing.T, s string) onnxgen.Arch {
	t.Helper()
	a, err := onnxgen.SpaceV3Wide.ParseArch(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestFinalResume: a search cancelled in its final phase keeps the
// candidates trained; a resume without a new budget samples nothing and
// trains only the rest; a resume after the phase trains nothing; a resume
// with a larger budget samples on, then trains the new candidates only.
func TestFinalResume(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ff := newFinalFake(t, 3)
	ff.before = func(c context.Context, tr Trial) error {
		if ff.total() == 2 { // the second candidate: Ctrl-C
			cancel()
			<-c.Done()
			return c.Err()
		}
		return nil
	}
	_, err := Run(ctx, Config{Dir: dir, Options: finalOptions(3, 3), Evaluator: newFake(), FinalEvaluator: ff})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled in the final phase: %v", err)
	}
	st, err := ReadRunState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Finals) != 3 || st.Finals[0].Status != Done || st.Finals[1].Status != Running || st.Finals[1].Attempts != 0 ||
		st.Finals[2].Status != Running || st.FinalModel != st.Finals[0].Trial {
		t.Fatalf("after the cancel: finals %+v, final model %d", st.Finals, st.FinalModel)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != "final model of "+st.Finals[0].Arch {
		t.Errorf("best.onnx = %q after the first candidate", b)
	}

	ff2 := newFinalFake(t, 3)
	fake := newFake()
	sum, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: fake, FinalEvaluator: ff2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stop != "final" || sum.Ran != 0 || len(fake.calls) != 0 {
		t.Errorf("resume in the final phase: stop %q, %d trials ran, %d evaluations; want final, none", sum.Stop, sum.Ran, len(fake.calls))
	}
	if ff2.total() != 2 || ff2.calls[st.Finals[0].Trial] != 0 {
		t.Errorf("resume trained %v; want the two candidates left, not trial %d", ff2.calls, st.Finals[0].Trial)
	}
	if sum.Final == nil || len(sum.Finals) != 3 || chosenFinal(map[int]FinalRecord{0: sum.Finals[0], 1: sum.Finals[1], 2: sum.Finals[2]}) < 0 {
		t.Fatalf("after the resume: final %+v, finals %+v", sum.Final, sum.Finals)
	}
	for _, f := range sum.Finals {
		if f.Status != Done {
			t.Errorf("final candidate %d: %v", f.Trial, f.Status)
		}
	}
	chosen := sum.Final.Trial

	ff3 := newFinalFake(t, 3)
	sum, err = Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake(), FinalEvaluator: ff3})
	if err != nil || ff3.total() != 0 || sum.Final == nil || sum.Final.Trial != chosen {
		t.Errorf("resume after the final phase: %v, %d trainings, final %+v; want none, trial %d", err, ff3.total(), sum.Final, chosen)
	}

	ff4 := newFinalFake(t, 3)
	sum, err = Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 24}, Evaluator: newFake(), FinalEvaluator: ff4})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Trials != 24 || sum.Stop != "trials" {
		t.Errorf("extended resume: %d trials, stop %q", sum.Trials, sum.Stop)
	}
	cands := finalCandidates(readTrials(t, dir), 3)
	old := map[int]bool{}
	for _, f := range st.Finals {
		old[f.Trial] = true
	}
	fresh := 0
	for _, c := range cands {
		if !old[c.Index] {
			fresh++
		}
	}
	if ff4.total() != fresh {
		t.Errorf("extended resume trained %v; want the %d new candidates only", ff4.calls, fresh)
	}
	if idx, m, err := ReadFinalModel(dir); err != nil || idx != sum.Final.Trial {
		t.Errorf("final model %d %q %v, summary %+v", idx, m, err, sum.Final)
	} else if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != string(m) {
		t.Errorf("best.onnx %q is not the final model %q", b, m)
	}
}

// TestFinalBudget: with a duration, the sampling stops once the time left
// is what the final phase is predicted to need (the slowest plausible
// trial's seconds × the epochs ratio × the scale): a long prediction ends
// the sampling after the first iteration and the final phase is shrunk to
// fit (fewer epochs: 1,000 s × 4 epochs × scale 2 is over the hour, × 1
// epoch under it), recorded in the summary and the final row; a short one
// leaves the trial budget in charge and the phase as asked.
func TestFinalBudget(t *testing.T) {
	for _, c := range []struct {
		name    string
		seconds float64
		trials  int
		stop    string
		epochs  int
		shrunk  string
	}{
		{"the final needs more than the duration", 1000, 4, "duration", 1, "k 1 -> 1, epochs 4 -> 1"},
		{"the final fits", 0.001, 12, "trials", 4, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
				out, err := fake.Evaluate(ctx, tr)
				out.Seconds = c.seconds
				return out, err
			})
			o := finalOptions(1, 4)
			o.Duration = time.Hour
			o.Child.TrainSize = 100 // the scale 2: the whole split holds 200
			ff := newFinalFake(t, c.epochs)
			dir := t.TempDir()
			sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev, FinalEvaluator: ff, FinalScale: 2})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Trials != c.trials || sum.Stop != c.stop || ff.total() != 1 || sum.Final == nil {
				t.Fatalf("%d trials, stop %q, %d final trainings, final %+v; want %d, %q, 1", sum.Trials, sum.Stop, ff.total(), sum.Final, c.trials, c.stop)
			}
			if got := strings.Join(sum.Shrunk, "; "); !strings.Contains(got, c.shrunk) || (c.shrunk == "") != (got == "") {
				t.Errorf("shrunk %q, want %q", got, c.shrunk)
			}
			st, err := ReadRunState(dir)
			if err != nil || len(st.Finals) != 1 || st.Finals[0].Epochs != c.epochs {
				t.Errorf("final rows %+v (%v): want one of %d epochs", st.Finals, err, c.epochs)
			}
		})
	}
}

// TestFinalShare: with Options.FinalShare the reserve for the final phase
// is at most that share of the duration, so candidates predicted slower
// than the whole budget (the case that once ended make search's sampling
// after its first iteration) leave the sampling its share; the final
// phase is then shrunk to fit, and a candidate alone in a phase of
// Parallel slots gets them all (Trial.Slots), two candidates one each.
func TestFinalShare(t *testing.T) {
	for _, c := range []struct {
		name          string
		seconds       float64 // each trial's; a final candidate is 8 of them (scale 2, 4 epochs) over slotSpeedup
		share         float64
		k, parallel   int
		trials        int
		stop          string
		finals        int
		epochs, slots int
	}{
		// 8000 s over 1.6 is more than the hour: the reserve alone ends
		// the sampling, then the shrink leaves 2 epochs (4000 s / 1.6).
		{"no cap: the prediction ends the sampling", 1000, 0, 1, 2, 4, "duration", 1, 2, 2},
		{"the share caps the reserve", 1000, 0.5, 1, 2, 12, "trials", 1, 2, 2},
		// 2400 s for a candidate of one slot: two fit the hour side by side.
		{"two candidates, a slot each", 300, 0.5, 2, 2, 12, "trials", 2, 4, 1},
		{"four slots over two", 300, 0.5, 2, 4, 12, "trials", 2, 4, 2},
		// k 2 of 4 slots each, too slow: one candidate fewer, four slots.
		{"the shrink gives the slots to the one left", 1000, 0.5, 2, 4, 12, "trials", 1, 4, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
				if tr.Slots > 1 {
					t.Errorf("trial %d of the sampling has %d slots", tr.Index, tr.Slots)
				}
				out, err := fake.Evaluate(ctx, tr)
				out.Seconds = c.seconds
				return out, err
			})
			o := finalOptions(c.k, 4)
			o.Duration, o.FinalShare, o.Parallel = time.Hour, c.share, c.parallel
			o.Child.TrainSize = 100
			ff := newFinalFake(t, c.epochs)
			dir := t.TempDir()
			sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev, FinalEvaluator: ff, FinalScale: 2})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Trials != c.trials || sum.Stop != c.stop || ff.total() != c.finals {
				t.Fatalf("%d trials, stop %q, %d final trainings; want %d, %q, %d", sum.Trials, sum.Stop, ff.total(), c.trials, c.stop, c.finals)
			}
			for trial, s := range ff.slots {
				if s != c.slots {
					t.Errorf("final candidate %d: %d slots, want %d", trial, s, c.slots)
				}
			}
			if st, err := ReadRunState(dir); err != nil || len(st.Finals) != c.finals || st.Finals[0].Epochs != c.epochs {
				t.Errorf("final rows %+v (%v): want %d of %d epochs", st.Finals, err, c.finals, c.epochs)
			}
		})
	}
	o := finalOptions(1, 4)
	for _, share := range []float64{-0.1, 1, 1.5} {
		o.FinalShare = share
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "final share") {
			t.Errorf("share %g: %v, want refused", share, err)
		}
	}
	o = testOptions(StrategyRandom, 12)
	o.FinalShare = 0.5
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "without rungs or a final phase") {
		t.Errorf("a share without a phase to keep it for: %v", err)
	}
}

// timedFake is a finalFake that is a Timer: every candidate is predicted
// to take fixed + perEpoch × epochs (or err).
type timedFake struct {
	*finalFake
	fixed, perEpoch time.Duration
	err             error
	asked           []Trial
}

func (f *timedFake) Time(_ context.Context, tr Trial) (time.Duration, time.Duration, error) {
	f.mu.Lock()
	f.asked = append(f.asked, tr)
	f.mu.Unlock()
	return f.fixed, f.perEpoch, f.err
}

// TestFinalTimed: with a Timer, the final phase fits its plan to the time
// left by the candidates' probes, asked once per candidate and slot count
// with the final child options; a probe that fails leaves the prediction
// to the trials' seconds.
func TestFinalTimed(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		epochs int
	}{
		// (10 s + 32 × 100 s) × probeMargin 1.1 fits the hour, 33 do
		// not.
		{"timed", nil, 32},
		// The trials' 1000 s × 2 (scale) per epoch over 1.6 (two slots):
		// 2 epochs fit the hour.
		{"the probe fails", errors.New("no probe"), 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
				out, err := fake.Evaluate(ctx, tr)
				out.Seconds = 1000
				return out, err
			})
			o := finalOptions(1, 50)
			o.Duration, o.FinalShare, o.Parallel = time.Hour, 0.5, 2
			o.Child.TrainSize = 100
			tf := &timedFake{finalFake: newFinalFake(t, c.epochs), fixed: 10 * time.Second, perEpoch: 100 * time.Second, err: c.err}
			dir := t.TempDir()
			sum, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: ev, FinalEvaluator: tf, FinalScale: 2})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Trials != 12 || tf.total() != 1 {
				t.Fatalf("%d trials, %d final trainings; want 12, 1", sum.Trials, tf.total())
			}
			if st, err := ReadRunState(dir); err != nil || len(st.Finals) != 1 || st.Finals[0].Epochs != c.epochs {
				t.Errorf("final rows %+v (%v): want one of %d epochs", st.Finals, err, c.epochs)
			}
			if len(tf.asked) != 1 {
				t.Fatalf("the timer was asked %d times, want once (the plan's candidate, remembered)", len(tf.asked))
			}
			if a := tf.asked[0]; a.Slots != 2 || a.Iteration != -1 || a.Index != sum.Finals[0].Trial || a.Child.TrainSize != 0 || !a.Child.CosineLR {
				t.Errorf("timed %+v; want the candidate's trial with two slots and the final child options", a)
			}
		})
	}
}

// TestFinalModelChecksum: a damaged final model is restored from a
// best.onnx that matches it, and refused when neither does.
func TestFinalModelChecksum(t *testing.T) {
	dir := t.TempDir()
	runSearch(t, dir, finalOptions(2, 3), newFake(), nil)
	good, _ := os.ReadFile(filepath.Join(dir, BestFile))
	execSQL(t, dir, `UPDATE final_model SET onnx = X'00112233'`)
	if _, _, err := ReadFinalModel(dir); !errors.Is(err, ErrModelChecksum) {
		t.Errorf("ReadFinalModel of a damaged blob: %v", err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()}); err != nil {
		t.Fatalf("resume with an intact best.onnx: %v", err)
	}
	if _, m, err := ReadFinalModel(dir); err != nil || string(m) != string(good) {
		t.Errorf("after resume: final model %q, %v; want restored from best.onnx", m, err)
	}
	execSQL(t, dir, `UPDATE final_model SET onnx = X'00112233'`)
	if err := os.WriteFile(filepath.Join(dir, BestFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()}); !errors.Is(err, ErrInconsistent) {
		t.Errorf("resume with both damaged: %v, want ErrInconsistent", err)
	}
}

// TestVersion4Continued: a database of schema version 4 (no final tables)
// is read (no finals) and resumed: the tables are added, the version
// becomes 6 (the sampled table too), and the run ends as one never
// interrupted.
func TestVersion4Continued(t *testing.T) {
	o := testOptions(StrategyRandom, 16)
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	dir := t.TempDir()
	o8 := o
	o8.Trials = 8
	runSearch(t, dir, o8, newFake(), nil)
	execSQL(t, dir, `DROP TABLE final`, `DROP TABLE final_model`, `UPDATE run SET version = 4`)
	st, err := ReadRunState(dir)
	if err != nil || len(st.Trials) != 8 || st.Finals != nil || st.FinalModel != -1 {
		t.Fatalf("version 4: %d trials, finals %v, final model %d, %v", len(st.Trials), st.Finals, st.FinalModel, err)
	}
	if idx, m, err := ReadFinalModel(dir); err != nil || idx != -1 || m != nil {
		t.Errorf("version 4: ReadFinalModel %d %q %v", idx, m, err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16}, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	compareRuns(t, ref, dir)
	execSQL(t, dir, `SELECT count(*) FROM final`)
	if st, err := ReadRunState(dir); err != nil || st.Finals != nil {
		t.Errorf("after the upgrade: %v, finals %v", err, st.Finals)
	}
	var v int
	s, err := openStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.db.QueryRow(`SELECT version FROM run`).Scan(&v); err != nil || v != SchemaVersion || SchemaVersion != 7 || !s.finals || !s.rungs || !s.sampled {
		t.Errorf("version %d (%v), final tables %v, rung tables %v, sampled table %v; want %d", v, err, s.finals, s.rungs, s.sampled, SchemaVersion)
	}
}

// TestFinalWithoutModel: an evaluator that returns no model still gives the
// run a final candidate (an empty final model), and a resume finds the
// directory consistent.
func TestFinalWithoutModel(t *testing.T) {
	dir := t.TempDir()
	ff := newFinalFake(t, 3)
	noModel := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		out, err := ff.Evaluate(ctx, tr)
		out.Model = nil
		return out, err
	})
	sum, err := Run(context.Background(), Config{Dir: dir, Options: finalOptions(1, 3), Evaluator: newFake(), FinalEvaluator: noModel})
	if err != nil || sum.Final == nil {
		t.Fatalf("final %+v, %v", sum.Final, err)
	}
	if idx, m, err := ReadFinalModel(dir); err != nil || idx != sum.Final.Trial || m == nil || len(m) != 0 {
		t.Errorf("ReadFinalModel: %d %q (nil %v) %v; want trial %d's empty model", idx, m, m == nil, err, sum.Final.Trial)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake(), FinalEvaluator: noModel}); err != nil {
		t.Errorf("resume: %v", err)
	}
}
