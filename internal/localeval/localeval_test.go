package localeval

import (
	"context"
	"math"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"

	"github.com/nas-project/nas/internal/testenv"
	"github.com/nas-project/nas/onnxgen"

	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

var (
	rtOnce sync.Once
	rt     *runner.Runtime
	rtErr  error
)

func runtime(t testing.TB) *runner.Runtime {
	t.Helper()
	lib := testenv.ORTLibrary(t)
	rtOnce.Do(func() { rt, rtErr = runner.New(runner.Config{LibraryPath: lib, Threads: 1}) })
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rt
}

// tinyChild trains on 256 digits for one epoch and validates on 100.
func tinyChild() search.ChildOptions {
	return search.ChildOptions{Dataset: "digits", Epochs: 1, Batch: 32, LR: 0.05, TrainSize: 256, ValSize: 100}
}

func evaluator(t testing.TB, co search.ChildOptions) *Evaluator {
	t.Helper()
	d, err := LoadData("", co, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != co.TrainSize || d.Val.Len() != co.ValSize {
		t.Fatalf("LoadData: %d training and %d validation images, want %d and %d", d.Train.Len(), d.Val.Len(), co.TrainSize, co.ValSize)
	}
	ev, err := New(Config{Runtime: runtime(t), Train: d.Train, Val: d.Val, Norm: d.Norm})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestEvaluate: a real child trains; the returned model is the trained
// network (its accuracy on the validation set is the last epoch's).
func TestEvaluate(t *testing.T) {
	co := tinyChild()
	co.Epochs, co.TrainSize, co.Batch = 4, 1000, 16
	ev := evaluator(t, co)
	tr := search.Trial{Index: 3, Arch: "kh3 kw3 f24 | kh3 kw3 sh2 sw2 f36 in0", Seed: 11, Child: co}
	out, err := ev.Evaluate(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status %v reward %.4f val acc %v params %d flops %d %.2fs", out.Status, out.Reward, out.ValAcc, out.Params, out.FLOPs, out.Seconds)
	if out.Status != search.Done || len(out.ValAcc) != 4 || len(out.Model) == 0 {
		t.Fatalf("outcome %+v", out)
	}
	last := out.ValAcc[3]
	if want := math.Pow(max(out.ValAcc[0], out.ValAcc[1], out.ValAcc[2], last), 3); math.Abs(out.Reward-want) > 1e-12 {
		t.Errorf("reward %v, want %v", out.Reward, want)
	}
	if last < 0.5 {
		t.Errorf("validation accuracy %.3f after 4 epochs on digits, want ≥ 0.5", last)
	}
	// Params: conv 24·1·9+24, conv 36·24·9+36, fc 10·36+10.
	if out.Params != 24*9+24+36*24*9+36+10*36+10 {
		t.Errorf("params %d", out.Params)
	}
	// The model's accuracy on the validation set: it folds the
	// normalisation in, so it gets the raw pixels back.
	val := ev.cfg.Val
	raw := make([]float32, len(val.X))
	for i, x := range val.X {
		c := (i / (val.H * val.W)) % val.C
		raw[i] = x*ev.cfg.Norm.Std[c] + ev.cfg.Norm.Mean[c]
	}
	logits, shape, err := runtime(t).Infer(out.Model, onnxgen.InputImage, raw, []int64{int64(val.Len()), int64(val.C), int64(val.H), int64(val.W)}, onnxgen.OutputLogits)
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	for i := range val.Len() {
		row := logits[i*int(shape[1]) : (i+1)*int(shape[1])]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		if int64(best) == val.Y[i] {
			hits++
		}
	}
	if acc := float64(hits) / float64(val.Len()); math.Abs(acc-last) > 1.5/float64(val.Len()) {
		t.Errorf("best model's accuracy %.3f, the trial's last validation accuracy %.3f", acc, last)
	}
	// Same trial, same seed: the same outcome.
	again, err := ev.Evaluate(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if again.Reward != out.Reward {
		t.Errorf("rerun reward %v, first %v", again.Reward, out.Reward)
	}
}

// TestSlots: a trial of s slots (a lone final candidate's) trains with s
// times the runtime's threads, at most one per core; one slot keeps the
// runtime as it is, and a trial of two slots trains Done (whether its bits
// equal one slot's is logged, not required: ONNX Runtime may split a
// reduction by thread).
func TestSlots(t *testing.T) {
	co := tinyChild()
	ev := evaluator(t, co)
	if ev.runtime(0) != ev.cfg.Runtime || ev.runtime(1) != ev.cfg.Runtime {
		t.Error("a trial of one slot does not train on the evaluator's runtime")
	}
	if got, want := ev.runtime(2).Threads(), min(2, goruntime.NumCPU()); got != want {
		t.Errorf("two slots of one thread: %d threads, want %d (cores %d)", got, want, goruntime.NumCPU())
	}
	if got := ev.runtime(64).Threads(); got != goruntime.NumCPU() {
		t.Errorf("64 slots: %d threads, want one per core (%d)", got, goruntime.NumCPU())
	}
	tr := search.Trial{Index: 1, Arch: "kh3 kw3 f24 | kh3 kw3 sh2 sw2 f36 in0", Seed: 5, Child: co}
	one, err := ev.Evaluate(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	tr.Slots = 2
	two, err := ev.Evaluate(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if one.Status != search.Done || two.Status != search.Done {
		t.Fatalf("statuses %v and %v, want done", one.Status, two.Status)
	}
	if one.Reward != two.Reward {
		t.Logf("one slot: reward %v, two slots: %v", one.Reward, two.Reward)
	}
}

// TestTime: the probe of a real child gives a fixed part and a time per
// epoch (both positive, the epoch's at least the probe's steps' share of
// it) without changing the evaluator's results; an architecture that does
// not compile is an error. (How close the prediction comes is a matter of
// the machine's load, so it is not asserted: README's "The final training"
// has a measurement.)
func TestTime(t *testing.T) {
	co := tinyChild()
	ev := evaluator(t, co)
	tr := search.Trial{Index: 2, Arch: "kh3 kw3 f24 | kh3 kw3 sh2 sw2 f36 in0", Seed: 5, Child: co, Slots: 2}
	fixed, perEpoch, err := ev.Time(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fixed %v, per epoch %v", fixed, perEpoch)
	if fixed <= 0 || perEpoch <= fixed {
		t.Errorf("fixed %v, per epoch %v: want 0 < fixed < per epoch", fixed, perEpoch)
	}
	tr.Arch = "kh3 kw3 f24 | kh3 kw3 f36 in5"
	if _, _, err := ev.Time(context.Background(), tr); err == nil || !strings.Contains(err.Error(), "trial 2") {
		t.Errorf("a bad architecture: %v, want an error naming the trial", err)
	}
	co.Batch = 512 // more than the 256 training images: too few steps to time
	tr.Arch, tr.Child = "kh3 kw3 f24", co
	if _, _, err := ev.Time(context.Background(), tr); err == nil {
		t.Error("a probe of no step timed something")
	}
}

// TestStatuses: the child's failures become statuses, not errors.
func TestStatuses(t *testing.T) {
	ev := evaluator(t, tinyChild())
	cases := []struct {
		name, arch string
		child      func(*search.ChildOptions)
		want       search.Status
		reason     string
		stop       []float64
	}{
		{"stride beyond the map", "kh3 kw3 sh3 sw3 f24 | kh3 kw3 sh3 sw3 f24 in0 | kh3 kw3 sh3 sw3 f24 in1", nil, search.Failed, "stride 3x3 on a 1x1", nil},
		{"not an architecture", "kh3 kw3", nil, search.Failed, "onnxgen:", nil},
		{"max params", "kh7 kw7 f64 | kh7 kw7 f64 in0", func(c *search.ChildOptions) { c.MaxParams = 10000 }, search.Oversized, "more than the limit 10000", nil},
		{"memory limit", "kh3 kw3 f64", func(c *search.ChildOptions) { c.MemoryLimit = 100000 }, search.Oversized, "", nil},
		{"divergence", "kh3 kw3 f24", func(c *search.ChildOptions) { c.LR = 1e30 }, search.Diverged, "", nil},
		{"early stop", "kh3 kw3 f24", func(c *search.ChildOptions) { c.Epochs = 3 }, search.Stopped, "stopped after epoch 1 of 3", []float64{1}},
	}
	for _, c := range cases {
		co := tinyChild()
		if c.child != nil {
			c.child(&co)
		}
		out, err := ev.Evaluate(context.Background(), search.Trial{Arch: c.arch, Seed: 1, Child: co, StopBelow: c.stop})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if out.Status != c.want || !strings.Contains(out.Reason, c.reason) || out.Model != nil {
			t.Errorf("%s: status %v reason %q model %d bytes; want %v with %q", c.name, out.Status, out.Reason, len(out.Model), c.want, c.reason)
		}
		if c.want == search.Stopped && (len(out.ValAcc) != 1 || out.Reward != math.Pow(out.ValAcc[0], 3)) {
			t.Errorf("%s: validation accuracies %v, reward %v; want one epoch and its reward", c.name, out.ValAcc, out.Reward)
		}
	}
	// Options that do not fit the data are the caller's: an error.
	co := tinyChild()
	co.Batch = 1000
	if _, err := ev.Evaluate(context.Background(), search.Trial{Arch: "kh3 kw3 f24", Child: co}); err == nil || !strings.HasPrefix(err.Error(), "localeval: ") {
		t.Errorf("batch larger than the training set: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ev.Evaluate(ctx, search.Trial{Arch: "kh3 kw3 f24", Child: tinyChild()}); err != context.Canceled {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestNewErrors(t *testing.T) {
	set := &dataset.Set{X: make([]float32, 4), Y: []int64{0, 1}, C: 1, H: 1, W: 2, Classes: 2}
	other := &dataset.Set{X: make([]float32, 2), Y: []int64{0}, C: 1, H: 1, W: 2, Classes: 3}
	for _, c := range []Config{{}, {Runtime: &runner.Runtime{}}, {Runtime: &runner.Runtime{}, Train: set, Val: other}} {
		if _, err := New(c); err == nil || !strings.HasPrefix(err.Error(), "localeval: ") {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
}
