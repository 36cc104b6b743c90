package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nas-project/nas/internal/testenv"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/runner"
)

var shared struct {
	once sync.Once
	rt   *runner.Runtime
	err  error
}

// newRuntime returns the tests' CPU runtime (2 threads at most).
func newRuntime(t testing.TB) *runner.Runtime {
	t.Helper()
	lib := testenv.ORTLibrary(t)
	shared.once.Do(func() {
		shared.rt, shared.err = runner.New(runner.Config{LibraryPath: lib, Threads: min(2, runtime.NumCPU())})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.rt
}

// blobs is a linearly separable data set: k classes around random centres
// in c×h×w dimensions, with noise well below the distance between centres.
func blobs(seed uint64, n, c, h, w, k int) *dataset.Set {
	r := rand.New(rand.NewPCG(seed, 1))
	d := c * h * w
	centres := make([][]float32, k)
	cr := rand.New(rand.NewPCG(42, 42)) // the same centres for every seed
	for j := range centres {
		centres[j] = make([]float32, d)
		for i := range centres[j] {
			centres[j][i] = float32(cr.NormFloat64())
		}
	}
	s := &dataset.Set{Name: "blobs", C: c, H: h, W: w, Classes: k, X: make([]float32, n*d), Y: make([]int64, n)}
	for i := range n {
		y := r.IntN(k)
		s.Y[i] = int64(y)
		for j := range d {
			s.X[i*d+j] = centres[y][j] + 0.3*float32(r.NormFloat64())
		}
	}
	return s
}

const (
	tc, th, tw, tk = 1, 4, 4, 3
)

func zeroChild(t testing.TB, mu, wd float32) softmaxChild {
	return newSoftmaxChild(t, tc, th, tw, tk, mu, wd, make([]float32, tk*tc*th*tw), make([]float32, tk))
}

// accuracy is a classifier's score: the fraction of a pass's examples its
// prediction got right.
func accuracy(p runner.Pass) float64 { return p.Metrics["correct"] / float64(p.Examples) }

// metric is one metric of every epoch's validation pass of res.
func metric(res runner.Result, name string) []float64 {
	out := make([]float64, len(res.Val))
	for i, p := range res.Val {
		out[i] = p.Metrics[name]
	}
	return out
}

// checkScores: res has one score per validation pass, and each is that
// epoch's accuracy over every validation example.
func checkScores(t *testing.T, res runner.Result, examples int) {
	t.Helper()
	if len(res.Scores) != len(res.Val) {
		t.Fatalf("%d scores for %d validation passes", len(res.Scores), len(res.Val))
	}
	for e, p := range res.Val {
		if p.Examples != examples {
			t.Errorf("epoch %d: validation pass over %d examples, want %d", e, p.Examples, examples)
		}
		if res.Scores[e] != accuracy(p) {
			t.Errorf("epoch %d: score %v, want the accuracy %v", e, res.Scores[e], accuracy(p))
		}
	}
}

func TestTrainLearns(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 1e-4)
	train, val := blobs(1, 640, tc, th, tw, tk), blobs(2, 203, tc, th, tw, tk)
	var calls int
	res, err := rt.Train(context.Background(), ch.child, train, val, runner.TrainOptions{
		Epochs: 4, Batch: 32, EvalBatch: 50, LR: 0.05, Seed: 7, Score: accuracy,
		Progress: func(p runner.Progress) {
			calls++
			if p.Batches != 20 || math.IsNaN(float64(p.Loss)) || !(p.ExamplesPerSec > 0) {
				t.Errorf("progress %+v", p)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runner.Done || res.Reason != "" {
		t.Fatalf("status %v (%s), want done", res.Status, res.Reason)
	}
	if calls != 4*20 {
		t.Errorf("progress called %d times, want %d (640/32 batches × 4 epochs)", calls, 80)
	}
	if len(res.Val) != 4 || len(res.Scores) != 4 {
		t.Fatalf("Val %v Scores %v: want 4 epochs", res.Val, res.Scores)
	}
	checkScores(t, res, val.Len())
	valAcc, valLoss := res.Scores, metric(res, "loss")
	if acc := valAcc[3]; acc <= 0.9 {
		t.Errorf("validation accuracy %v after 4 epochs, want > 0.9 (all: %v)", acc, valAcc)
	}
	if valLoss[3] >= valLoss[0] && valLoss[0] > 0.05 {
		t.Errorf("validation loss did not fall: %v", valLoss)
	}
	if !(res.ExamplesPerSec > 0) || !(res.Seconds > 0) {
		t.Errorf("examples/s %v seconds %v", res.ExamplesPerSec, res.Seconds)
	}
	// The trained weights evaluate to the last epoch's accuracy, and agree
	// with plain Go arithmetic over every validation image.
	pass, err := rt.Evaluate(context.Background(), ch.child, res.Params, val, 64)
	if err != nil {
		t.Fatal(err)
	}
	if pass.Examples != val.Len() {
		t.Errorf("Evaluate counted %d examples, want %d", pass.Examples, val.Len())
	}
	acc, loss := accuracy(pass), pass.Metrics["loss"]
	if acc != valAcc[3] || math.Abs(loss-valLoss[3]) > 1e-5 {
		t.Errorf("Evaluate = %v, %v; Train's last epoch %v, %v", acc, loss, valAcc[3], valLoss[3])
	}
	if goAcc, goLoss := softmaxEval(res.Params, val); goAcc != acc || math.Abs(goLoss-loss) > 1e-4 {
		t.Errorf("Evaluate = %v, %v; Go reference %v, %v", acc, loss, goAcc, goLoss)
	}
}

// softmaxEval is the accuracy and mean cross-entropy of softmax regression
// with params over set, in float64.
func softmaxEval(params []runner.Param, set *dataset.Set) (acc, loss float64) {
	w, b := params[0].Data, params[1].Data
	k := len(b)
	d := len(w) / k
	right := 0
	for i := range set.Len() {
		logits := softmaxLogits(w, b, set.X[i*d:(i+1)*d])
		best, lse := 0, logSumExp(logits)
		for j := range k {
			if logits[j] > logits[best] {
				best = j
			}
		}
		if int64(best) == set.Y[i] {
			right++
		}
		loss += lse - logits[set.Y[i]]
	}
	n := float64(set.Len())
	return float64(right) / n, loss / n
}

func softmaxLogits(w, b, x []float32) []float64 {
	k, d := len(b), len(x)
	out := make([]float64, k)
	for j := range k {
		s := float64(b[j])
		for i := range d {
			s += float64(w[j*d+i]) * float64(x[i])
		}
		out[j] = s
	}
	return out
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// TestTrainMatchesSGD checks the training graph, the double buffering and the
// momentum buffers against PyTorch-semantics SGD written in Go: three
// full-batch steps (one batch per epoch, so shuffling does not matter), from
// non-zero weights, with weight decay; also with a parameter that has no
// momentum buffer (the graph has no input head.fc.b.mom).
func TestTrainMatchesSGD(t *testing.T) {
	for _, biasMom := range []bool{true, false} {
		t.Run(fmt.Sprintf("bias momentum %v", biasMom), func(t *testing.T) { testTrainMatchesSGD(t, biasMom) })
	}
}

func testTrainMatchesSGD(t *testing.T, biasMom bool) {
	rt := newRuntime(t)
	const n, lr, mu, wd = 48, 0.2, 0.9, 0.01
	r := rand.New(rand.NewPCG(3, 3))
	d := tc * th * tw
	w0, b0 := make([]float32, tk*d), make([]float32, tk)
	for i := range w0 {
		w0[i] = float32(r.NormFloat64() * 0.3)
	}
	for i := range b0 {
		b0[i] = float32(r.NormFloat64() * 0.3)
	}
	ch := buildSoftmax(t, tc, th, tw, tk, mu, wd, w0, b0, biasMom)
	set := blobs(5, n, tc, th, tw, tk)
	res, err := rt.Train(context.Background(), ch.child, set, set, runner.TrainOptions{Epochs: 3, Batch: n, LR: lr})
	if err != nil || res.Status != runner.Done {
		t.Fatalf("train: %v %v %s", err, res.Status, res.Reason)
	}
	// The reference.
	w := [][]float64{f64(w0), f64(b0)}
	v := [][]float64{make([]float64, len(w0)), make([]float64, len(b0))}
	for range 3 {
		gw, gb := make([]float64, len(w0)), make([]float64, tk)
		for i := range n {
			x := set.X[i*d : (i+1)*d]
			logits := make([]float64, tk)
			for j := range tk {
				logits[j] = w[1][j]
				for q := range d {
					logits[j] += w[0][j*d+q] * float64(x[q])
				}
			}
			lse := logSumExp(logits)
			for j := range tk {
				g := math.Exp(logits[j] - lse)
				if int64(j) == set.Y[i] {
					g--
				}
				g /= n
				gb[j] += g
				for q := range d {
					gw[j*d+q] += g * float64(x[q])
				}
			}
		}
		for p, g := range [][]float64{gw, gb} {
			for i := range g {
				dd := g[i] + wd*w[p][i]
				if p == 1 && !biasMom {
					w[p][i] -= lr * dd
					continue
				}
				v[p][i] = mu*v[p][i] + dd
				w[p][i] -= lr * v[p][i]
			}
		}
	}
	for p := range 2 {
		for i, want := range w[p] {
			if got := float64(res.Params[p].Data[i]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("%s[%d] = %v after 3 steps, Go reference %v", res.Params[p].Name, i, got, want)
			}
		}
	}
	// The child's own initial parameters are untouched.
	if c := ch.child.Params[0].Data[0]; c != w0[0] {
		t.Errorf("Train modified the child's parameters")
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestTrainDiverges(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 0)
	train, val := blobs(1, 256, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	res, err := rt.Train(context.Background(), ch.child, train, val, runner.TrainOptions{Epochs: 3, Batch: 32, LR: 1e38})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runner.Diverged || res.Params != nil || !strings.Contains(res.Reason, "loss") {
		t.Fatalf("status %v params %d reason %q: want diverged, no weights, a reason naming the loss", res.Status, len(res.Params), res.Reason)
	}
}

func TestTrainCancelled(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 0)
	train, val := blobs(1, 256, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	_, err := rt.Train(ctx, ch.child, train, val, runner.TrainOptions{Epochs: 5, Batch: 16, LR: 0.1,
		Progress: func(runner.Progress) {
			batches++
			if batches == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if batches != 3 {
		t.Errorf("%d batches ran, want 3: the context is checked before every batch", batches)
	}
	if _, err := rt.Evaluate(ctx, ch.child, ch.child.Params, val, 8); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate with a cancelled context: err = %v", err)
	}
}

func TestTrainOversized(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 0)
	train, val := blobs(1, 256, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	need := runner.EstimateMemory(ch.child, 32)
	// 2 sets of 51 weights and 51 momentum values, 32 images of 16 floats,
	// 32 × 2 × (16 + 12) activation floats, 32 labels (int64).
	if want := int64(4*(2*(51+51)+32*16+32*2*28) + 8*32); need != want {
		t.Errorf("EstimateMemory = %d, want %d", need, want)
	}
	// Without the bias's momentum buffer: 48 zero-started values, not 51.
	noBiasMom := buildSoftmax(t, tc, th, tw, tk, 0.9, 0, make([]float32, tk*tc*th*tw), make([]float32, tk), false)
	if got, want := runner.EstimateMemory(noBiasMom.child, 32), int64(4*(2*(51+48)+32*16+32*2*28)+8*32); got != want {
		t.Errorf("EstimateMemory without the bias momentum = %d, want %d", got, want)
	}
	// The training graph is garbage: Oversized is decided before any session
	// exists, so it never gets parsed.
	c := ch.child
	c.Train.Model = []byte("not a model")
	res, err := rt.Train(context.Background(), c, train, val, runner.TrainOptions{Epochs: 1, Batch: 32, LR: 0.1, MemoryLimit: need - 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runner.Oversized || !strings.Contains(res.Reason, "limit") || res.Params != nil || res.Val != nil {
		t.Fatalf("status %v reason %q params %d val %v: want oversized with a reason, nothing run", res.Status, res.Reason, len(res.Params), res.Val)
	}
	res, err = rt.Train(context.Background(), ch.child, train, val, runner.TrainOptions{Epochs: 1, Batch: 32, LR: 0.1, MemoryLimit: need})
	if err != nil || res.Status != runner.Done {
		t.Fatalf("at the limit: %v %v %s, want done", err, res.Status, res.Reason)
	}
}

func TestTrainFailed(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 0)
	train, val := blobs(1, 64, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	for _, tt := range []struct {
		name string
		edit func(*child.Net)
	}{
		{"garbage training graph", func(c *child.Net) { c.Train.Model = []byte("not a model") }},
		{"garbage evaluation graph", func(c *child.Net) { c.Eval.Model = []byte("not a model") }},
		// The description renames head.fc.b consistently (so it validates),
		// but the serialized graphs lack the name: ORT rejects it.
		{"param name the graph lacks", func(c *child.Net) {
			c.Params = []runner.Param{c.Params[0], {Name: "head.fc.bias", Shape: c.Params[1].Shape, Data: c.Params[1].Data}}
			c.Train.Inputs = renamed(c.Train.Inputs, "head.fc.b", "head.fc.bias")
			c.Eval.Inputs = renamed(c.Eval.Inputs, "head.fc.b", "head.fc.bias")
			c.State = slices.Clone(c.State)
			for i := range c.State {
				if c.State[i].Input == "head.fc.b" {
					c.State[i].Input = "head.fc.bias"
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ch.child
			tt.edit(&c)
			res, err := rt.Train(context.Background(), c, train, val, runner.TrainOptions{Epochs: 1, Batch: 16, LR: 0.1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != runner.Failed || res.Reason == "" || res.Params != nil {
				t.Fatalf("status %v reason %q params %d: want failed with ORT's reason", res.Status, res.Reason, len(res.Params))
			}
			t.Log(res.Reason)
		})
	}
}

// renamed is ts with the tensor called from renamed to, copied.
func renamed(ts []child.Tensor, from, to string) []child.Tensor {
	out := slices.Clone(ts)
	for i := range out {
		if out[i].Name == from {
			out[i].Name = to
		}
	}
	return out
}

func TestTrainDeterministic(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 1e-4)
	train, val := blobs(1, 256, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	run := func(seed uint64) runner.Result {
		res, err := rt.Train(context.Background(), ch.child, train, val, runner.TrainOptions{Epochs: 2, Batch: 16, LR: 0.05, Seed: seed})
		if err != nil || res.Status != runner.Done {
			t.Fatalf("seed %d: %v %v %s", seed, err, res.Status, res.Reason)
		}
		return res
	}
	a, b, c := run(11), run(11), run(12)
	if !equalParams(a.Params, b.Params) || !slicesEqual(metric(a, "loss"), metric(b, "loss")) || !slicesEqual(metric(a, "correct"), metric(b, "correct")) {
		t.Errorf("two runs with seed 11 differ")
	}
	if equalParams(a.Params, c.Params) {
		t.Errorf("seeds 11 and 12 give identical weights: the seed does not drive the shuffle")
	}
}

// TestTrainStopsEarly: a threshold above the reachable accuracy stops the
// child after that epoch with the epochs run and their scores; a threshold
// of zero, or one for the last epoch, stops nothing; the stopped run's
// first epoch equals the full run's (same seed).
func TestTrainStopsEarly(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 1e-4)
	train, val := blobs(1, 256, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	for i := range val.Y { // labels the child cannot learn: accuracy stays below 1
		val.Y[i] = int64(i % tk)
	}
	run := func(stop []float64) runner.Result {
		res, err := rt.Train(context.Background(), ch.child, train, val,
			runner.TrainOptions{Epochs: 3, Batch: 16, LR: 0.05, Seed: 5, Score: accuracy, ScoreName: "validation accuracy", StopBelow: stop})
		if err != nil {
			t.Fatal(err)
		}
		checkScores(t, res, val.Len())
		return res
	}
	full := run(nil)
	if full.Status != runner.Done || len(full.Scores) != 3 {
		t.Fatalf("no thresholds: %v after %d epochs", full.Status, len(full.Scores))
	}
	for _, stop := range [][]float64{{0, 0}, {0, 0, 1}} {
		if res := run(stop); res.Status != runner.Done || !slicesEqual(res.Scores, full.Scores) {
			t.Errorf("thresholds %v: %v %v, want done %v", stop, res.Status, res.Scores, full.Scores)
		}
	}
	res := run([]float64{0, 1})
	best := fmt.Sprintf("best validation accuracy %.4f below", max(full.Scores[0], full.Scores[1]))
	if res.Status != runner.Stopped || len(res.Val) != 2 || !slicesEqual(res.Scores, full.Scores[:2]) ||
		res.Params != nil || !strings.Contains(res.Reason, "stopped after epoch 2 of 3") || !strings.Contains(res.Reason, best) {
		t.Errorf("threshold 1 after epoch 2: %v %v params %d reason %q, want the reason to say %q", res.Status, res.Scores, len(res.Params), res.Reason, best)
	}
	if _, err := rt.Train(context.Background(), ch.child, train, val, runner.TrainOptions{Epochs: 2, Batch: 16, LR: 0.05, Score: accuracy, StopBelow: []float64{math.NaN()}}); err == nil || !strings.Contains(err.Error(), "stop threshold NaN after epoch 1") {
		t.Errorf("NaN threshold: %v", err)
	}
}

func equalParams(a, b []runner.Param) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !slicesEqual(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTrainInvalid(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 0)
	train, val := blobs(1, 64, tc, th, tw, tk), blobs(2, 32, tc, th, tw, tk)
	ok := runner.TrainOptions{Epochs: 1, Batch: 16, LR: 0.1}
	empty := &dataset.Set{Name: "empty", C: tc, H: th, W: tw, Classes: tk}
	for _, tt := range []struct {
		name       string
		opts       runner.TrainOptions
		train, val runner.Source
		child      func(*child.Net)
		want       string
	}{
		{"zero epochs", runner.TrainOptions{Batch: 16, LR: 0.1}, train, val, nil, "epochs"},
		{"zero batch", runner.TrainOptions{Epochs: 1, LR: 0.1}, train, val, nil, "batch"},
		{"nan lr", runner.TrainOptions{Epochs: 1, Batch: 16, LR: float32(math.NaN())}, train, val, nil, "lr"},
		{"stop thresholds without a score", runner.TrainOptions{Epochs: 2, Batch: 16, LR: 0.1, StopBelow: []float64{0.5}}, train, val, nil, "without a Score"},
		{"batch over the set", runner.TrainOptions{Epochs: 1, Batch: 65, LR: 0.1}, train, val, nil, "exceeds"},
		{"nil validation data", ok, train, nil, nil, "validation data: none"},
		{"empty training data", ok, empty, val, nil, "training data: empty"},
		{"param size", ok, train, val, func(c *child.Net) {
			c.Params = []runner.Param{c.Params[0], {Name: "head.fc.b", Shape: []int64{4}, Data: c.Params[1].Data}}
		}, "needs 4 values"},
		{"duplicate param", ok, train, val, func(c *child.Net) { c.Params = []runner.Param{c.Params[0], c.Params[0]} }, "duplicate name"},
		{"param name the graphs lack", ok, train, val, func(c *child.Net) {
			c.Params = []runner.Param{c.Params[0], {Name: "head.fc.bias", Shape: c.Params[1].Shape, Data: c.Params[1].Data}}
		}, `parameter "head.fc.bias" is not an input of the evaluation graph`},
		{"input without a role", ok, train, val, func(c *child.Net) { c.LR = "" }, `training input "lr" has no role`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ch.child
			if tt.child != nil {
				tt.child(&c)
			}
			_, err := rt.Train(context.Background(), c, tt.train, tt.val, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "runner: ") {
				t.Fatalf("err = %v, want a runner error about %q", err, tt.want)
			}
		})
	}
}

func TestEvaluateCoversEveryImage(t *testing.T) {
	rt := newRuntime(t)
	r := rand.New(rand.NewPCG(9, 9))
	w, b := make([]float32, tk*tc*th*tw), make([]float32, tk)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	ch := newSoftmaxChild(t, tc, th, tw, tk, 0.9, 0, w, b)
	set := blobs(4, 101, tc, th, tw, tk)
	wantAcc, wantLoss := softmaxEval(ch.child.Params, set)
	for _, batch := range []int{1, 7, 100, 101, 500} {
		pass, err := rt.Evaluate(context.Background(), ch.child, ch.child.Params, set, batch)
		if err != nil {
			t.Fatal(err)
		}
		if pass.Examples != set.Len() {
			t.Errorf("batch %d: %d examples counted, want %d", batch, pass.Examples, set.Len())
		}
		if acc, loss := accuracy(pass), pass.Metrics["loss"]; acc != wantAcc || math.Abs(loss-wantLoss) > 1e-4 {
			t.Errorf("batch %d: acc %v loss %v, Go reference %v %v", batch, acc, loss, wantAcc, wantLoss)
		}
	}
}

func TestInfer(t *testing.T) {
	rt := newRuntime(t)
	r := rand.New(rand.NewPCG(8, 8))
	w, b := make([]float32, tk*tc*th*tw), make([]float32, tk)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	ch := newSoftmaxChild(t, tc, th, tw, tk, 0.9, 0, w, b)
	set := blobs(4, 5, tc, th, tw, tk)
	logits, shape, err := rt.Infer(ch.infer, "image", set.X, []int64{5, tc, th, tw}, "logits")
	if err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(shape, []int64{5, tk}) {
		t.Fatalf("logits shape %v, want [5 %d]", shape, tk)
	}
	d := tc * th * tw
	for i := range 5 {
		want := softmaxLogits(w, b, set.X[i*d:(i+1)*d])
		for j := range tk {
			if got := float64(logits[i*tk+j]); math.Abs(got-want[j]) > 1e-4 {
				t.Errorf("logit [%d,%d] = %v, want %v", i, j, got, want[j])
			}
		}
	}
	if _, _, err := rt.Infer(ch.infer, "image", set.X[:10], []int64{5, tc, th, tw}, "logits"); err == nil || !strings.Contains(err.Error(), "runner: infer") {
		t.Errorf("short image: err = %v", err)
	}
	if _, _, err := rt.Infer([]byte("junk"), "image", set.X, []int64{5, tc, th, tw}, "logits"); err == nil {
		t.Errorf("junk model: no error")
	}
	if _, _, err := rt.Infer(ch.infer, "pixels", set.X, []int64{5, tc, th, tw}, "logits"); err == nil || !strings.Contains(err.Error(), "runner: infer") {
		t.Errorf("input name the model lacks: err = %v", err)
	}
}

// TestStepAllocatesNothing: in the steady state, one training step (writing
// the batch in place and running the graph) allocates nothing in Go.
func TestStepAllocatesNothing(t *testing.T) {
	rt := newRuntime(t)
	ch := zeroChild(t, 0.9, 0)
	set := blobs(1, 64, tc, th, tw, tk)
	step, fill, free, err := rt.StepForTest(ch.child, set, 32, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	var stepErr error
	allocs := testing.AllocsPerRun(100, func() {
		fill()
		if err := step(); err != nil {
			stepErr = err
		}
	})
	if stepErr != nil {
		t.Fatal(stepErr)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per step, want 0", allocs)
	}
}

// TestTrainFreesEverything runs Train 50 times: the Go heap and the process's
// resident memory (ORT's C allocations) stay flat.
func TestTrainFreesEverything(t *testing.T) {
	rt := newRuntime(t)
	const c, h, w, k = 3, 16, 16, 10 // 7,690 parameters: a leaked set shows
	ch := newSoftmaxChild(t, c, h, w, k, 0.9, 0, make([]float32, k*c*h*w), make([]float32, k))
	train, val := blobs(1, 128, c, h, w, k), blobs(2, 64, c, h, w, k)
	run := func() {
		res, err := rt.Train(context.Background(), ch.child, train, val, runner.TrainOptions{Epochs: 1, Batch: 32, LR: 0.01})
		if err != nil || res.Status != runner.Done {
			t.Fatalf("%v %v %s", err, res.Status, res.Reason)
		}
	}
	for range 10 { // warm up ORT's and Go's allocators
		run()
	}
	heap0, rss0 := memory(t)
	for range 50 {
		run()
	}
	heap1, rss1 := memory(t)
	t.Logf("50 trainings: Go heap %+d KiB, resident %+d KiB", (heap1-heap0)>>10, (rss1-rss0)>>10)
	if heap1-heap0 > 1<<20 {
		t.Errorf("Go heap grew by %d KiB over 50 trainings", (heap1-heap0)>>10)
	}
	if rss1-rss0 > 12<<20 {
		t.Errorf("resident memory grew by %d KiB over 50 trainings", (rss1-rss0)>>10)
	}
}

func memory(t *testing.T) (heap, rss int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		t.Fatal(err)
	}
	return int64(ms.HeapAlloc), res * int64(os.Getpagesize())
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  runner.Config
		ok   bool
	}{
		{"zero", runner.Config{}, true},
		{"cuda", runner.Config{Device: "cuda"}, true},
		{"auto", runner.Config{Device: "auto", Threads: 4}, true},
		{"unknown device", runner.Config{Device: "tpu"}, false},
		{"negative threads", runner.Config{Threads: -1}, false},
	} {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
}

func TestNewLibraryErrors(t *testing.T) {
	lib := testenv.ORTLibrary(t)
	newRuntime(t)
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	_, err := runner.New(runner.Config{LibraryPath: missing})
	if !errors.Is(err, runner.ErrLibrary) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "run make ort or set NAS_ORT_LIB") {
		t.Errorf("missing library: err = %v", err)
	}
	t.Setenv(runner.EnvLibrary, missing)
	if _, err = runner.New(runner.Config{}); !errors.Is(err, runner.ErrLibrary) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing library from %s: err = %v", runner.EnvLibrary, err)
	}
	// Another, existing library while one is loaded.
	other := filepath.Join(t.TempDir(), "other.so")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = runner.New(runner.Config{LibraryPath: other}); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("second library: err = %v", err)
	}
	t.Setenv(runner.EnvLibrary, lib)
	if rt, err := runner.New(runner.Config{}); err != nil || rt.Library() != lib {
		t.Errorf("library from %s: %v", runner.EnvLibrary, err)
	}
}

// TestNewWrongLibrary loads files that are not ONNX Runtime in a fresh
// process (a process loads one library): the error names the file and says
// how to get the right one.
func TestNewWrongLibrary(t *testing.T) {
	if path := os.Getenv("RUNNER_TEST_WRONG_LIBRARY"); path != "" {
		_, err := runner.New(runner.Config{LibraryPath: path})
		if err == nil {
			t.Fatal("no error")
		}
		os.Stdout.WriteString("ERROR: " + err.Error() + "\n")
		if !errors.Is(err, runner.ErrLibrary) {
			t.Fatal("not ErrLibrary")
		}
		return
	}
	text := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(text, []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	libc := "/lib/x86_64-linux-gnu/libc.so.6" // a real library without OrtGetApiBase
	for _, path := range []string{text, libc} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestNewWrongLibrary$", "-test.v")
		cmd.Env = append(os.Environ(), "RUNNER_TEST_WRONG_LIBRARY="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: subprocess: %v\n%s", path, err, out)
			continue
		}
		if !bytes.Contains(out, []byte("ERROR: runner: loading "+path)) || !bytes.Contains(out, []byte("run make ort or set NAS_ORT_LIB")) {
			t.Errorf("%s: unclear message:\n%s", path, out)
		}
	}
}

// TestDeviceCUDAUnavailable: the test library is ORT's CPU build, so "cuda"
// fails clearly and "auto" falls back to the CPU with a warning.
func TestDeviceCUDAUnavailable(t *testing.T) {
	lib := testenv.ORTLibrary(t)
	newRuntime(t)
	_, err := runner.New(runner.Config{LibraryPath: lib, Device: "cuda"})
	if err == nil || !strings.Contains(err.Error(), "CUDA execution provider") {
		t.Fatalf("device cuda with a CPU library: err = %v", err)
	}
	t.Log(err)
	var logs bytes.Buffer
	rt, err := runner.New(runner.Config{LibraryPath: lib, Device: "auto", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Device() != "cpu" || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "CUDA unavailable") {
		t.Errorf("auto: device %q, logs %q: want cpu and a warning", rt.Device(), logs.String())
	}
	// The fallback runtime works.
	ch := zeroChild(t, 0.9, 0)
	if _, err := rt.Evaluate(context.Background(), ch.child, ch.child.Params, blobs(1, 8, tc, th, tw, tk), 4); err != nil {
		t.Error(err)
	}
}

func BenchmarkTrainStep(b *testing.B) {
	rt := newRuntime(b)
	const c, h, w, k, batch = 3, 32, 32, 10, 64
	ch := newSoftmaxChild(b, c, h, w, k, 0.9, 5e-4, make([]float32, k*c*h*w), make([]float32, k))
	set := blobs(1, batch, c, h, w, k)
	step, fill, free, err := rt.StepForTest(ch.child, set, batch, 0.01)
	if err != nil {
		b.Fatal(err)
	}
	defer free()
	b.ReportAllocs()
	for b.Loop() {
		fill()
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

func randFloats(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 5))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// TestSharedArenaSameResult: a Runtime with Config.SharedArena trains to the
// same bits as one without (the arena changes where tensors live, not what
// is computed), twice in a row (the second child reuses the arena).
func TestSharedArenaSameResult(t *testing.T) {
	rt := newRuntime(t)
	shared, err := runner.New(runner.Config{LibraryPath: rt.Library(), Threads: min(2, runtime.NumCPU()), SharedArena: true})
	if err != nil {
		t.Fatal(err)
	}
	ch := zeroChild(t, 0.9, 1e-4)
	train, val := blobs(1, 256, tc, th, tw, tk), blobs(2, 64, tc, th, tw, tk)
	opts := runner.TrainOptions{Epochs: 2, Batch: 32, LR: 0.05, Seed: 7, Score: accuracy}
	want, err := rt.Train(context.Background(), ch.child, train, val, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := shared.Train(context.Background(), ch.child, train, val, opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Params, got.Params); diff != "" || !slices.Equal(want.Scores, got.Scores) {
			t.Fatalf("run %d with the shared arena: scores %v, want %v; params (-want +got):\n%s", i, got.Scores, want.Scores, diff)
		}
	}
}
