package search

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func TestEarlyStopThresholds(t *testing.T) {
	done := func(acc ...float64) Record { return Record{Status: Done, ValAcc: acc} }
	recs := []Record{
		done(0.2, 0.4, 0.6),
		done(0.4, 0.6, 0.8),
		{Status: Stopped, ValAcc: []float64{0.1}},
		{Status: Duplicate, ValAcc: []float64{0.9, 0.9, 0.9}},
		{Status: Failed},
		done(0.6, 0.8, 1.0),
	}
	e := EarlyStop{On: true, MinTrials: 3}
	// Epoch 1: the first accuracies of trials 0, 1, 2 (stopped) and 5:
	// median of 0.2, 0.4, 0.1, 0.6 = 0.3. Epoch 2: running means 0.3, 0.5,
	// 0.7 (trial 2 stopped before it): median 0.5.
	if got, want := e.thresholds(recs, 3), []float64{0.3, 0.5}; !approxEqual(got, want) {
		t.Errorf("thresholds %v, want %v", got, want)
	}
	// Four epochs: epoch 3 had three trials (means 0.4, 0.6, 0.8).
	if got, want := e.thresholds(recs, 4), []float64{0.3, 0.5, 0.6}; !approxEqual(got, want) {
		t.Errorf("4 epochs: thresholds %v, want %v", got, want)
	}
	// Too few trials at epoch 2 with MinTrials 4: no threshold there.
	if got, want := (EarlyStop{On: true, MinTrials: 4}).thresholds(recs, 3), []float64{0.3, 0}; !approxEqual(got, want) {
		t.Errorf("min 4: thresholds %v, want %v", got, want)
	}
	for name, got := range map[string][]float64{
		"off":            EarlyStop{}.thresholds(recs, 3),
		"one epoch":      e.thresholds(recs, 1),
		"too few trials": e.thresholds(recs[:2], 3),
	} {
		if got != nil {
			t.Errorf("%s: thresholds %v, want none", name, got)
		}
	}
}

func approxEqual(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x-y < 1e-12 && y-x < 1e-12 })
}

func TestEarlyStopValidate(t *testing.T) {
	for _, c := range []struct {
		e    EarlyStop
		want string
	}{
		{EarlyStop{On: true, MinTrials: -1}, "min trials -1"},
		{EarlyStop{MinTrials: 3}, "without early stopping"},
		{EarlyStop{On: true}, "needs at least 2 epochs"}, // testOptions trains children for 1 epoch
	} {
		o := testOptions(StrategyRandom, 4)
		o.EarlyStop = c.e
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
	o := testOptions(StrategyRandom, 4)
	o.EarlyStop.On = true
	o.Child.Epochs = 2
	if err := o.Validate(); err != nil {
		t.Errorf("early stopping with 2 epochs: %v", err)
	}
	if d := o.WithDefaults().EarlyStop; d.MinTrials != DefaultEarlyStopMin {
		t.Errorf("defaults: %+v", d)
	}
}

// TestEarlyStopSearch: with the rule on, no trial of the first iteration
// stops; later a trial stops exactly when its first epoch is below the
// median of the earlier iterations' first epochs; stopped trials are never
// the best; they keep their reward.
func TestEarlyStopSearch(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(StrategyRandom, 40)
	o.Child.Epochs = 2
	o.EarlyStop = EarlyStop{On: true, MinTrials: 4}
	sum := runSearch(t, dir, o, newFake(), nil)
	recs := readTrials(t, dir)
	stopped := 0
	for i, r := range recs {
		var firsts []float64
		for _, q := range recs[:r.Iteration*o.M] {
			if q.Status == Done || q.Status == Stopped {
				firsts = append(firsts, q.ValAcc[0])
			}
		}
		if r.Status != Done && r.Status != Stopped {
			continue
		}
		want, th := Done, 0.0
		if len(firsts) >= 4 {
			th = median(firsts)
		}
		if r.ValAcc[0] < th {
			want = Stopped
		}
		if r.Status != want {
			t.Errorf("trial %d (iteration %d, first epoch %v, threshold %v from %d earlier): %v, want %v", i, r.Iteration, r.ValAcc, th, len(firsts), r.Status, want)
		}
		if r.Status == Stopped {
			stopped++
			if len(r.ValAcc) != 1 || r.Reward != r.ValAcc[0] || r.Error != "below the median" {
				t.Errorf("stopped trial %d: %+v", i, r)
			}
		}
	}
	if stopped < 5 {
		t.Errorf("%d trials stopped, want several", stopped)
	}
	if sum.Best == nil || sum.Best.Status != Done {
		t.Errorf("best %+v, want a done trial", sum.Best)
	}
}

// TestSchemaVersion1: a database of schema version 1 (before early
// stopping) is still read; a newer one is refused.
func TestSchemaVersion1(t *testing.T) {
	dir := t.TempDir()
	runSearch(t, dir, testOptions(StrategyRandom, 4), newFake(), nil)
	setVersion := func(v int) {
		db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE run SET version = ?`, v); err != nil {
			t.Fatal(err)
		}
	}
	setVersion(1)
	if _, recs, err := ReadRun(dir); err != nil || len(recs) != 4 {
		t.Errorf("version 1: %d trials, %v", len(recs), err)
	}
	setVersion(SchemaVersion + 1)
	if _, _, err := ReadRun(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("this nas reads 1 to %d", SchemaVersion)) {
		t.Errorf("version %d: %v", SchemaVersion+1, err)
	}
}

// TestOptionsRanges: values that used to pass Validate and then broke the
// search (a NaN controller gradient, a plot that fails after the search).
func TestOptionsRanges(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"huge penalty", func(o *Options) { o.Penalty = 1e308 }, "penalty 1e+308: want a value in [-1, 1]"},
		{"huge negative penalty", func(o *Options) { o.Penalty = -1e308 }, "penalty -1e+308"},
		{"huge controller lr", func(o *Options) { o.Controller.LR = 1e10 }, "controller lr 1e+10: want at most 1"},
	} {
		o := testOptions(StrategyRL, 4)
		c.set(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		name string
		set  func(*Options)
	}{
		{"penalty -1", func(o *Options) { o.Penalty = -1 }},
		{"penalty 0.5", func(o *Options) { o.Penalty = 0.5 }},
		{"controller lr 1", func(o *Options) { o.Controller.LR = 1 }},
	} {
		o := testOptions(StrategyRL, 4)
		c.set(&o)
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v, want no error", c.name, err)
		}
	}
}
