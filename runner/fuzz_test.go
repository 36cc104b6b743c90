package runner_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
)

// FuzzCompile runs the compiler on what the parser accepts, and ONNX Runtime
// on what the compiler writes: for any string that parses, CompileNet and
// Compile either succeed or fail with an onnxgen error (never a panic); a
// compiled child's description validates; and a small child (at most 4
// layers and 20,000 parameters on 1×8×8 images) trains for one epoch on a
// few images without ORT rejecting a graph (Done or Diverged; Failed means
// the compiler wrote a graph ORT refuses) and its inference graph gives
// logits of the right shape. The seed corpus covers every decision, skips,
// strides, pooling, batch norm and an error; `make fuzz` runs it longer.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"kh3 kw3 f8",
		"kh1 kw3 f8 | kh3 kw1 f16 in0",
		"kh3 kw3 sh2 sw2 f8 | kh5 kw5 f8 in0 | kh3 kw3 f16 in0 in1",
		"kh3 kw3 f8 p2 | kh3 kw3 f8 | kh1 kw1 f8 in0 in1",
		"kh7 kw7 sh3 sw3 f8 | kh3 kw3 sh3 sw3 f8 in0",
		"kh3 kw3 f8 | kh3 kw3 f8 in0 | kh3 kw3 f8 in1 | kh3 kw3 f8 in0 in2",
		"kh3 kw3 f8 p3 | kh3 kw3 f8 in0 p2",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	rt := newRuntime(f)
	f.Fuzz(func(t *testing.T, s string, bn bool) {
		a, err := onnxgen.Parse(s)
		if err != nil {
			return // the parser's own target checks its errors
		}
		in := onnxgen.Input{C: 1, H: 8, W: 8}
		const classes = 3
		cost, err := a.Cost(in, classes, bn)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "onnxgen: ") {
				t.Fatalf("%q: cost error %q lacks the package prefix", s, err)
			}
			return
		}
		if len(a.Layers) > 12 || cost.Params > 2_000_000 {
			return // too big to compile quickly
		}
		opts := onnxgen.TrainOptions{Options: onnxgen.Options{Seed: 1, BatchNorm: bn}, Momentum: 0.9, WeightDecay: 1e-4}
		net, err := onnxgen.CompileNet(a, in, classes, opts)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "onnxgen: ") {
				t.Fatalf("%q: CompileNet error %q lacks the package prefix", s, err)
			}
			return
		}
		if err := net.Validate(); err != nil {
			t.Fatalf("%q: the compiled child's description is inconsistent: %v", s, err)
		}
		m, err := onnxgen.Compile(a, in, classes, opts.Options)
		if err != nil {
			t.Fatalf("%q: CompileNet succeeded but Compile failed: %v", s, err)
		}
		if len(a.Layers) > 4 || cost.Params > 20_000 {
			return // compiled and described; too big to run here
		}
		set := blobs(7, 16, in.C, in.H, in.W, classes)
		res, err := rt.Train(context.Background(), net, set, set, runner.TrainOptions{Epochs: 1, Batch: 8, LR: 0.01})
		if err != nil {
			t.Fatalf("%q: Train: %v", s, err)
		}
		if res.Status != runner.Done && res.Status != runner.Diverged {
			t.Fatalf("%q: ORT refused the compiled child: %v: %s", s, res.Status, res.Reason)
		}
		model, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		_, shape, err := rt.Infer(model, onnxgen.InputImage, set.X[:4*in.C*in.H*in.W], []int64{4, int64(in.C), int64(in.H), int64(in.W)}, onnxgen.OutputLogits)
		if err != nil {
			t.Fatalf("%q: Infer: %v", s, err)
		}
		if len(shape) != 2 || shape[0] != 4 || shape[1] != classes {
			t.Fatalf("%q: logits shape %v, want [4 %d]", s, shape, classes)
		}
	})
}
