package runner_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nas-project/nas/internal/testenv"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
	ort "github.com/yalue/onnxruntime_go"
)

// sessionVariants are ORT session options changed one at a time from the
// runner's defaults (all graph optimisations, 2 intra-op threads, 1
// inter-op, sequential execution, arena and memory pattern on, spinning on).
var sessionVariants = []struct {
	name  string
	tweak func(*ort.SessionOptions) error
}{
	{"default", nil},
	{"nospin", func(o *ort.SessionOptions) error {
		return o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0")
	}},
	{"noarena", func(o *ort.SessionOptions) error { return o.SetCpuMemArena(false) }},
	{"nomempattern", func(o *ort.SessionOptions) error { return o.SetMemPattern(false) }},
	{"optbasic", func(o *ort.SessionOptions) error {
		return o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableBasic)
	}},
	{"optextended", func(o *ort.SessionOptions) error {
		return o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableExtended)
	}},
	{"parallel", func(o *ort.SessionOptions) error { return o.SetExecutionMode(ort.ExecutionModeParallel) }},
}

// BenchmarkSessionOptions times a training step of the benchmark
// architectures (as BenchmarkTrainStepArch) under each session-options
// variant, side by side: one session per variant, and every iteration runs
// one step of each, in rotating order, so that load from elsewhere on the
// machine falls on all alike. It reports ms per step per variant and each
// variant's time over the default's (below 1: faster).
func BenchmarkSessionOptions(b *testing.B) {
	const batch = 64
	in := onnxgen.Input{C: 3, H: 32, W: 32}
	base := newRuntime(b)
	archs := readArchs(b)
	for _, name := range []string{"A", "B", "C"} {
		net, err := onnxgen.CompileNet(archs[name], in, 10, onnxgen.TrainOptions{Options: onnxgen.Options{Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4})
		if err != nil {
			b.Fatal(err)
		}
		set := blobs(1, batch, in.C, in.H, in.W, 10)
		b.Run(name, func(b *testing.B) {
			steps := make([]func() error, len(sessionVariants))
			for i, v := range sessionVariants {
				step, _, free, err := base.WithSessionOptionsForTest(v.tweak).StepForTest(net, set, batch, 0.01)
				if err != nil {
					b.Fatal(err)
				}
				defer free()
				for range 3 {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
				steps[i] = step
			}
			spent, round := alternate(b, steps)
			for i, v := range sessionVariants {
				b.ReportMetric(float64(spent[i].Microseconds())/float64(round)/1e3, v.name+"-ms")
				if i > 0 {
					b.ReportMetric(float64(spent[i])/float64(spent[0]), v.name+"/default")
				}
			}
		})
	}
}

// BenchmarkFirstSteps creates a training session per iteration and times
// its creation and its first steps one by one (ms), against which the
// steady state (the 8th step) is set: a child of a search trains for few
// steps, so the first ones count.
func BenchmarkFirstSteps(b *testing.B) {
	const batch, steps = 64, 8
	in := onnxgen.Input{C: 3, H: 32, W: 32}
	rt := newRuntime(b)
	archs := readArchs(b)
	// envarena: Config.SharedArena (registered once, for the rest of the
	// process).
	for _, v := range []string{"A", "B", "A/envarena", "B/envarena"} {
		name, mode, _ := strings.Cut(v, "/")
		net, err := onnxgen.CompileNet(archs[name], in, 10, onnxgen.TrainOptions{Options: onnxgen.Options{Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4})
		if err != nil {
			b.Fatal(err)
		}
		set := blobs(1, batch, in.C, in.H, in.W, 10)
		rt := rt
		if mode == "envarena" {
			rt = sharedRuntime(b)
		}
		b.Run(v, func(b *testing.B) {
			var create time.Duration
			per := make([]time.Duration, steps)
			for b.Loop() {
				t0 := time.Now()
				step, _, free, err := rt.StepForTest(net, set, batch, 0.01)
				if err != nil {
					b.Fatal(err)
				}
				create += time.Since(t0)
				for k := range steps {
					t := time.Now()
					if err := step(); err != nil {
						b.Fatal(err)
					}
					per[k] += time.Since(t)
				}
				free()
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1e3 }
			b.ReportMetric(ms(create), "create-ms")
			for _, k := range []int{0, 1, 2, steps - 1} {
				b.ReportMetric(ms(per[k]), fmt.Sprintf("step%d-ms", k+1))
			}
		})
	}
}

// sharedRuntime is a Runtime with Config.SharedArena.
func sharedRuntime(tb testing.TB) *runner.Runtime {
	tb.Helper()
	rt, err := runner.New(runner.Config{LibraryPath: testenv.ORTLibrary(tb), Threads: 2, SharedArena: true})
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

// BenchmarkWeightGradFormsArch times a training step of the benchmark
// architectures with the cost model's weight-gradient forms (auto) beside
// every layer forced to one form, side by side as BenchmarkSessionOptions
// does: the whole-step check of onnxgen's cost model. It reports ms per
// step per form and each form's time over auto's.
func BenchmarkWeightGradFormsArch(b *testing.B) {
	const batch = 64
	in := onnxgen.Input{C: 3, H: 32, W: 32}
	rt := newRuntime(b)
	archs := readArchs(b)
	forms := []onnxgen.WeightGrad{onnxgen.WeightGradAuto, onnxgen.WeightGradColsX, onnxgen.WeightGradColsDz, onnxgen.WeightGradSeparable}
	for _, name := range []string{"A", "B", "C"} {
		set := blobs(1, batch, in.C, in.H, in.W, 10)
		b.Run(name, func(b *testing.B) {
			steps := make([]func() error, len(forms))
			for i, f := range forms {
				net, err := onnxgen.CompileNet(archs[name], in, 10, onnxgen.TrainOptions{Options: onnxgen.Options{Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4, WeightGrad: f})
				if err != nil {
					b.Fatal(err)
				}
				step, _, free, err := rt.StepForTest(net, set, batch, 0.01)
				if err != nil {
					b.Fatal(err)
				}
				defer free()
				for range 3 {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
				steps[i] = step
			}
			spent, round := alternate(b, steps)
			for i, f := range forms {
				b.ReportMetric(float64(spent[i].Microseconds())/float64(round)/1e3, f.String()+"-ms")
				if i > 0 {
					b.ReportMetric(float64(spent[i])/float64(spent[0]), f.String()+"/auto")
				}
			}
		})
	}
}

// alternate runs one step of each in turn per benchmark iteration, the
// order rotated every round, so that the machine's drifts spread over all
// of them; it returns each one's total time and the number of rounds.
func alternate(b *testing.B, steps []func() error) ([]time.Duration, int) {
	spent := make([]time.Duration, len(steps))
	round := 0
	for b.Loop() {
		for k := range steps {
			i := (k + round) % len(steps)
			t := time.Now()
			if err := steps[i](); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(t)
		}
		round++
	}
	return spent, round
}
