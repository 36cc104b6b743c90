package runner_test

import (
	"testing"

	"github.com/nas-project/nas/onnxgen"
)

// BenchmarkTrainStepArch times one training step (forward, loss, backward,
// SGD momentum update) of the benchmark architectures at batch 64 on 3×32×32,
// 10 classes, conv with bias, no batch norm, 2 intra-op threads: the numbers
// `make bench` sets beside PyTorch's (bench/torch_step.py). It reports
// images/s and GFLOP/s (3× the forward multiply-adds ×2 per image: forward,
// input gradient and weight gradient).
func BenchmarkTrainStepArch(b *testing.B) {
	const batch = 64
	in := onnxgen.Input{C: 3, H: 32, W: 32}
	rt := newRuntime(b)
	archs := readArchs(b) // bench/archs.txt, which bench/torch_step.py times too
	for _, name := range []string{"A", "B", "C"} {
		a, ok := archs[name]
		if !ok {
			b.Fatalf("bench/archs.txt has no architecture %s", name)
		}
		b.Run(name, func(b *testing.B) {
			opts := onnxgen.TrainOptions{Options: onnxgen.Options{Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4}
			net, err := onnxgen.CompileNet(a, in, 10, opts)
			if err != nil {
				b.Fatal(err)
			}
			cost, err := a.Cost(in, 10, false)
			if err != nil {
				b.Fatal(err)
			}
			set := blobs(1, batch, in.C, in.H, in.W, 10)
			step, fill, free, err := rt.StepForTest(net, set, batch, 0.01)
			if err != nil {
				b.Fatal(err)
			}
			defer free()
			fill()
			for range 2 { // warm up: ORT plans its memory on the first runs
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*batch)/sec, "images/s")
			b.ReportMetric(float64(b.N*batch)*3*2*float64(cost.FLOPs)/sec/1e9, "GFLOP/s")
		})
	}
}
