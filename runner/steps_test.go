package runner_test

import (
	"context"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
)

// trainSteps trains n on blobs with batch norm's child options of the
// search (momentum, weight decay, cosine lr) and returns the result and the
// loss of every step, in order.
func trainSteps(t *testing.T, rt *runner.Runtime, n child.Net) (runner.Result, []float32) {
	t.Helper()
	train, val := blobs(1, 10*16+5, 3, 8, 8, 4), blobs(2, 37, 3, 8, 8, 4)
	var losses []float32
	res, err := rt.Train(context.Background(), n, train, val, runner.TrainOptions{
		Epochs: 2, Batch: 16, EvalBatch: 10, LR: 0.1, CosineLR: true, Seed: 3, Score: accuracy,
		Progress: func(p runner.Progress) {
			if p.Batch != len(losses)%p.Batches {
				t.Errorf("progress for batch %d after %d steps", p.Batch, len(losses))
			}
			losses = append(losses, p.Loss)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runner.Done {
		t.Fatalf("status %v: %s", res.Status, res.Reason)
	}
	return res, losses
}

// TestStepsPerRun: a CNN with batch norm, momentum, weight decay and the
// cosine schedule trained through its K-step graph (an ONNX Loop over the
// steps of the training graph) for K = 1, 3 and 8 steps per run, with 10
// batches an epoch (so 3 and 8 end an epoch with a shorter run), trains to
// the same bits as one step per run: every step's loss, every validation
// pass and the trained weights. On the CPU the Loop's body runs the same
// kernels on the same values, so equality is exact.
func TestStepsPerRun(t *testing.T) {
	rt := newRuntime(t)
	a, err := onnxgen.Parse("kh3 kw3 f6 p2 | kh5 kw5 f4 in0 | kh3 kw3 f5 in0 in1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := onnxgen.CompileNet(a, onnxgen.Input{C: 3, H: 8, W: 8}, 4, onnxgen.TrainOptions{
		Options: onnxgen.Options{BatchNorm: true, Seed: 5}, Momentum: 0.9, WeightDecay: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	want, wantLoss := trainSteps(t, rt, n)
	if want.StepsPerRun != 1 || len(wantLoss) != 20 {
		t.Fatalf("the default CPU runtime: %d steps per run, %d steps", want.StepsPerRun, len(wantLoss))
	}
	if !(wantLoss[19] < wantLoss[0]) || slices.ContainsFunc(wantLoss, func(l float32) bool { return math.IsNaN(float64(l)) }) {
		t.Fatalf("losses %v: not a training run to compare against", wantLoss)
	}
	for _, k := range []int{1, 3, 8} {
		krt := rt.WithStepsForTest(k)
		if k > 1 {
			if krt, err = runner.New(runner.Config{LibraryPath: rt.Library(), Threads: min(2, runtime.NumCPU()), StepsPerRun: k}); err != nil {
				t.Fatal(err)
			}
		}
		got, gotLoss := trainSteps(t, krt, n)
		if got.StepsPerRun != k {
			t.Errorf("K=%d: the result says %d steps per run", k, got.StepsPerRun)
		}
		if !slices.Equal(gotLoss, wantLoss) {
			t.Errorf("K=%d: losses\n%v, want\n%v", k, gotLoss, wantLoss)
		}
		if diff := cmp.Diff(want.Val, got.Val); diff != "" || !slices.Equal(want.Scores, got.Scores) {
			t.Errorf("K=%d: validation (-single steps +K steps):\n%s", k, diff)
		}
		if diff := cmp.Diff(want.Params, got.Params); diff != "" {
			t.Errorf("K=%d: trained weights differ (-single steps +K steps):\n%s", k, diff)
		}
	}
	// A child without a K-step graph trains one step per run.
	single := n
	single.Steps = child.Graph{}
	krt, err := runner.New(runner.Config{LibraryPath: rt.Library(), Threads: min(2, runtime.NumCPU()), StepsPerRun: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := trainSteps(t, krt, single); got.StepsPerRun != 1 || !slices.Equal(got.Scores, want.Scores) {
		t.Errorf("without a K-step graph: %d steps per run, scores %v, want 1 and %v", got.StepsPerRun, got.Scores, want.Scores)
	}
}

// BenchmarkStepsPerRun times the K-step graph on the CPU beside single
// steps, side by side (alternate): per iteration, 4 runs of the training
// graph and one run of the K-step graph over 4 steps, on the benchmark
// architectures at batch 64 on 3×32×32, with batch norm, momentum and weight
// decay, 2 threads. It reports ms per step of each and the K-step form's
// time over the single steps' (below 1: faster).
func BenchmarkStepsPerRun(b *testing.B) {
	const batch, k = 64, 4
	in := onnxgen.Input{C: 3, H: 32, W: 32}
	rt := newRuntime(b)
	archs := readArchs(b)
	for _, name := range []string{"A", "B", "C"} {
		net, err := onnxgen.CompileNet(archs[name], in, 10, onnxgen.TrainOptions{
			Options: onnxgen.Options{BatchNorm: true, Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4})
		if err != nil {
			b.Fatal(err)
		}
		set := blobs(1, batch, in.C, in.H, in.W, 10)
		b.Run(name, func(b *testing.B) {
			one, _, free1, err := rt.StepForTest(net, set, batch, 0.01)
			if err != nil {
				b.Fatal(err)
			}
			defer free1()
			loop, _, freeK, err := rt.StepsForTest(net, set, batch, k, 0.01)
			if err != nil {
				b.Fatal(err)
			}
			defer freeK()
			single := func() error {
				for range k {
					if err := one(); err != nil {
						return err
					}
				}
				return nil
			}
			for range 2 {
				if err := single(); err != nil {
					b.Fatal(err)
				}
				if err := loop(); err != nil {
					b.Fatal(err)
				}
			}
			spent, round := alternate(b, []func() error{single, loop})
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(round*k) / 1e3 }
			b.ReportMetric(ms(spent[0]), "single-ms/step")
			b.ReportMetric(ms(spent[1]), "loop-ms/step")
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "loop/single")
		})
	}
}
