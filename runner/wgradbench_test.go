package runner_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nas-project/nas/onnxgen"
	gb "github.com/nas-project/nas/onnxgen/graph"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// wgradShapes are the convolution geometries the weight-gradient forms are
// measured on (batch 64): channel counts of the spaces' filters (24–64), a
// layer reading a wide concatenation (108 or 120 channels, as in C), the
// image layer (3 channels), a stride-2 layer, the 16×16 maps after it.
var wgradShapes = []struct {
	name       string
	c, h, f, s int
}{
	{"c36f36h32", 36, 32, 36, 1},
	{"c24f36h32", 24, 32, 36, 1},
	{"c64f64h16", 64, 16, 64, 1},
	{"c108f36h32", 108, 32, 36, 1},
	{"c3f36h32", 3, 32, 36, 1},
	{"c36f48h32s2", 36, 32, 48, 2},
}

// rawRun builds a session of model over 2 intra-op threads with the given
// input tensors and returns a function running it into fresh output
// tensors of the given shapes.
func rawRun(tb testing.TB, model []byte, in []string, ins []ort.Value, out []string, outShapes []ort.Shape, opts *ort.SessionOptions) (run func() error, outs []*ort.Tensor[float32], free func()) {
	tb.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, in, out, opts)
	if err != nil {
		tb.Fatal(err)
	}
	var ov []ort.Value
	for _, sh := range outShapes {
		t, err := ort.NewEmptyTensor[float32](sh)
		if err != nil {
			tb.Fatal(err)
		}
		outs = append(outs, t)
		ov = append(ov, t)
	}
	run = func() error { return s.Run(ins, ov) }
	free = func() {
		s.Destroy()
		for _, t := range outs {
			t.Destroy()
		}
	}
	return run, outs, free
}

func benchOpts(tb testing.TB) *ort.SessionOptions {
	tb.Helper()
	o, err := ort.NewSessionOptions()
	if err != nil {
		tb.Fatal(err)
	}
	if err := o.SetIntraOpNumThreads(2); err != nil {
		tb.Fatal(err)
	}
	if err := o.SetInterOpNumThreads(1); err != nil {
		tb.Fatal(err)
	}
	if err := o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		tb.Fatal(err)
	}
	return o
}

func randTensor(tb testing.TB, r *rand.Rand, shape ...int64) *ort.Tensor[float32] {
	tb.Helper()
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	t, err := ort.NewTensor(ort.NewShape(shape...), v)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// BenchmarkConvWeightGrad times the weight gradient alone, per form
// (onnxgen.WeightGrad), kernel size 1/3/5/7 and geometry (wgradShapes), at
// batch 64 on 2 threads: the measurements behind onnxgen's cost model
// (doc.go, "Conv weight"). It also checks that every form gives the
// cols-x form's result to float rounding.
func BenchmarkConvWeightGrad(b *testing.B) {
	const batch = 64
	newRuntime(b) // initialises the ORT environment
	opts := benchOpts(b)
	defer opts.Destroy()
	for _, sh := range wgradShapes {
		for _, k := range []int{3, 5, 7} { // a 1×1 stride-1 layer always takes cols-x
			s := onnxgen.ConvShape{C: sh.c, H: sh.h, W: sh.h, F: sh.f, KH: k, KW: k, SH: sh.s, SW: sh.s}
			ho := (sh.h-1)/sh.s + 1
			r := rand.New(rand.NewPCG(1, uint64(k)))
			x := randTensor(b, r, batch, int64(sh.c), int64(sh.h), int64(sh.h))
			dz := randTensor(b, r, batch, int64(sh.f), int64(ho), int64(ho))
			var ref []float32
			for _, form := range onnxgen.WeightGradForms() {
				if form == onnxgen.WeightGradColsDz && sh.s != 1 {
					continue // stride 1 only: a strided layer would time cols-x under this name
				}
				b.Run(fmt.Sprintf("%s/k%d/%v", sh.name, k, form), func(b *testing.B) {
					m, err := onnxgen.CompileWeightGrad(s, form)
					if err != nil {
						b.Fatal(err)
					}
					data, err := proto.Marshal(m)
					if err != nil {
						b.Fatal(err)
					}
					run, outs, free := rawRun(b, data, []string{"x", "dz"}, []ort.Value{x, dz}, []string{"dw"},
						[]ort.Shape{ort.NewShape(int64(sh.f), int64(sh.c), int64(k), int64(k))}, opts)
					defer free()
					for range 2 {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					got := outs[0].GetData()
					if ref == nil {
						ref = append([]float32(nil), got...)
					} else {
						var maxRef, maxDiff float64
						for i := range got {
							maxRef = math.Max(maxRef, math.Abs(float64(ref[i])))
							maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-ref[i])))
						}
						if maxDiff > 1e-4*maxRef {
							b.Fatalf("%v differs from cols-x by %g (max |dW| %g)", form, maxDiff, maxRef)
						}
					}
					for b.Loop() {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1e3, "ms/op")
				})
			}
			x.Destroy()
			dz.Destroy()
		}
	}
}

// BenchmarkConvPeak is the machine's convolution throughput in this ORT on
// 2 threads: one lone 3×3 Conv, 64→64 channels on 32×32 at batch 64, the
// weight a graph input as in the training graphs (so no NCHWc rewrite).
// BenchmarkTrainStepArch's GFLOP/s are set against it.
func BenchmarkConvPeak(b *testing.B) {
	const batch, c, h = 64, 64, 32
	newRuntime(b)
	opts := benchOpts(b)
	defer opts.Destroy()
	g := gb.NewBuilder("peak")
	x := g.Input("x", gb.Float, gb.Batch, c, h, h)
	w := g.Input("w", gb.Float, c, c, 3, 3)
	g.Output(g.Conv("y", x, w, gb.Value{}, gb.ConvAttrs{Pads: []int64{1, 1, 1, 1}}))
	m, err := g.Model()
	if err != nil {
		b.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	xt, wt := randTensor(b, r, batch, c, h, h), randTensor(b, r, c, c, 3, 3)
	defer xt.Destroy()
	defer wt.Destroy()
	run, _, free := rawRun(b, data, []string{"x", "w"}, []ort.Value{xt, wt}, []string{"y"}, []ort.Shape{ort.NewShape(batch, c, h, h)}, opts)
	defer free()
	for range 2 {
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*2*batch*c*c*9*h*h/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
