package runner_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// childOptions are the child options of `make search` (SEARCH_FLAGS and
// the defaults): Fashion-MNIST, 5,000 training and 1,000 validation images,
// batch 64, one epoch, batch norm, lr 0.1 annealed by a half cosine,
// momentum 0.9, weight decay 1e-4.
func childOptions() search.ChildOptions {
	mu := 0.9
	return search.ChildOptions{Dataset: "fashion-mnist", TrainSize: 5000, ValSize: 1000, Epochs: 1, Batch: 64,
		LR: 0.1, CosineLR: true, Momentum: &mu, WeightDecay: 1e-4, BatchNorm: true}.WithDefaults()
}

// childTime is one child evaluation's time and the part of it inside the
// training steps' session runs.
type childTime struct{ child, steps time.Duration }

// evalChild does what localeval's Evaluate does for a trial of arch a
// (compile the child, train and validate it, build its inference model) and
// times it.
func evalChild(b *testing.B, rt *runner.Runtime, a onnxgen.Arch, d localeval.Data, co search.ChildOptions, seed uint64) childTime {
	t0 := time.Now()
	in := onnxgen.Input{C: d.Train.C, H: d.Train.H, W: d.Train.W}
	if _, err := a.Cost(in, d.Train.Classes, co.BatchNorm); err != nil {
		b.Fatal(err)
	}
	net, err := localeval.BuildChild(a, in, d.Train.Classes, co, seed)
	if err != nil {
		b.Fatal(err)
	}
	res, err := rt.Train(context.Background(), net, d.Train, d.Val, localeval.TrainOptions(co, seed))
	if err != nil || res.Status != runner.Done {
		b.Fatalf("%v %v: %s", err, res.Status, res.Reason)
	}
	m, err := localeval.InferenceModel(a, in, d.Train.Classes, co, res.Params, d.Norm, map[string]string{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := (proto.MarshalOptions{Deterministic: true}).Marshal(m); err != nil {
		b.Fatal(err)
	}
	return childTime{child: time.Since(t0), steps: time.Duration(res.StepSeconds * float64(time.Second))}
}

// BenchmarkChild times one child evaluation as `make search` runs it
// (childOptions, 2 threads; localeval's Evaluate's work: compile, session
// creation, the epoch's 78 steps, validation, the inference model) for the
// benchmark architectures, after one untimed child: the number
// bench/childcompare.sh sets beside PyTorch's (bench/torch_child.py). It
// reports seconds per child, seconds inside the training steps, and the
// share of the child outside them (%).
func BenchmarkChild(b *testing.B) {
	rt := newRuntime(b)
	benchChild(b, []*runner.Runtime{rt})
}

// BenchmarkChildSharedArena alternates children on a runtime with an arena
// per session (the default) and on one with runner.Config.SharedArena, as
// BenchmarkChild times them; it reports both and the shared arena's child
// time over the default's (below 1: faster).
func BenchmarkChildSharedArena(b *testing.B) {
	benchChild(b, []*runner.Runtime{newRuntime(b), sharedRuntime(b)})
}

func benchChild(b *testing.B, rts []*runner.Runtime) {
	co := childOptions()
	d, err := localeval.LoadData("", co, 1)
	if err != nil {
		b.Fatal(err)
	}
	archs := readArchs(b)
	for _, name := range []string{"A", "B", "C"} {
		b.Run(name, func(b *testing.B) {
			for _, rt := range rts {
				evalChild(b, rt, archs[name], d, co, 1)
			}
			spent := make([]childTime, len(rts))
			round := 0
			for b.Loop() {
				for k := range rts {
					i := (k + round) % len(rts)
					t := evalChild(b, rts[i], archs[name], d, co, 1)
					spent[i].child += t.child
					spent[i].steps += t.steps
				}
				round++
			}
			sec := func(d time.Duration) float64 { return d.Seconds() / float64(round) }
			b.ReportMetric(sec(spent[0].child), "child-s")
			b.ReportMetric(sec(spent[0].steps), "steps-s")
			b.ReportMetric(100*(1-float64(spent[0].steps)/float64(spent[0].child)), "outside-%")
			if len(rts) > 1 {
				b.ReportMetric(sec(spent[1].child), "shared-child-s")
				b.ReportMetric(100*(1-float64(spent[1].steps)/float64(spent[1].child)), "shared-outside-%")
				b.ReportMetric(float64(spent[1].child)/float64(spent[0].child), "shared/default")
			}
		})
	}
}
