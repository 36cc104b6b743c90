package onnxgen

import (
	"fmt"
	"math"

	"github.com/nas-project/nas/onnxgen/graph"
)

// This file holds the backward rules of the forward ops, in standard ONNX
// opset-17 ops emitted through the Builder (see "Training graphs" in doc.go).

// convGeom is one convolution's geometry: input channels and size (after the
// concatenation of its inputs, before the 'same' padding), padding, output.
type convGeom struct {
	C, H, W        int // input
	F, KH, KW      int
	SH, SW         int
	PT, PL, PB, PR int // 'same' padding: top, left, bottom, right
	HO, WO         int // output size
	Pool           int // the max pool after the Relu (0: none)
	YH, YW         int // the layer's output size (HO, WO, or pooled)
}

// pads is the 'same' padding as Conv's pads attribute.
func (g convGeom) pads() []int64 {
	return []int64{int64(g.PT), int64(g.PL), int64(g.PB), int64(g.PR)}
}

func (g convGeom) strides() []int64 { return []int64{int64(g.SH), int64(g.SW)} }

// reluGrad is dz = Where(y > 0, dy, 0) for y = Relu(z).
func reluGrad(b *graph.Builder, out string, y, dy graph.Value) graph.Value {
	zero := b.Scalar("const.f.0", 0)
	return b.Where(out, b.Greater(out+".mask", y, zero), dy, zero)
}

// maxPoolGrad is the gradient out [N,F,HO,WO] of the Relu r under the
// layer's P×P max pool (stride P, floor mode) given the pool's gradient dy
// [N,F,YH,YW]: each window's gradient goes to its first maximum in
// row-major order, as PyTorch's max_pool2d (and ORT's MaxPool indices)
// choose it, and rows and columns outside every window get 0. Standard ops
// only, no scatter: the windows of the cropped r become P² phase planes
// (SpaceToDepth, reshaped to [N,P²,F,YH,YW]); ArgMax over the phases takes
// the first maximum; its OneHot [N,F,YH,YW,P²] times dy, moved back to the
// phases' layout and placed by DepthToSpace, then zero-padded to HO×WO.
func maxPoolGrad(b *graph.Builder, pre, out string, r, dy graph.Value, g convGeom) graph.Value {
	p := int64(g.Pool)
	hc, wc := int64(g.YH)*p, int64(g.YW)*p
	f, yh, yw := int64(g.F), int64(g.YH), int64(g.YW)
	x := r
	crop := hc != int64(g.HO) || wc != int64(g.WO)
	if crop {
		x = b.Slice(pre+".crop", r, []int64{0, 0}, []int64{hc, wc}, []int64{2, 3}, nil)
	}
	ph := b.Reshape(pre+".phases", b.SpaceToDepth(pre+".s2d", x, p), 0, p*p, f, yh, yw)
	mask := b.OneHot(pre+".mask", b.ArgMax(pre+".argmax", ph, 1, false), p*p, 0, 1)
	d := b.Mul(pre+".grad.phases", mask, b.Unsqueeze(pre+".grad.u", dy, 4))
	d = b.Reshape(pre+".grad.d", b.Transpose(pre+".grad.t", d, 0, 4, 1, 2, 3), 0, p*p*f, yh, yw)
	if !crop {
		return b.DepthToSpace(out, d, p)
	}
	return b.Pad(out, b.DepthToSpace(pre+".grad.s", d, p), 0, 0, 0, 0, 0, 0, int64(g.HO)-hc, int64(g.WO)-wc)
}

// sumGrads adds the gradient contributions xs (no op for one).
func sumGrads(b *graph.Builder, out string, xs []graph.Value) graph.Value {
	if len(xs) == 1 {
		return xs[0]
	}
	return b.Sum(out, xs...)
}

// constant returns the float initializer name, creating it with fill() the
// first time (constants are shared by name).
func constant(b *graph.Builder, name string, shape []int64, fill func() []float32) graph.Value {
	if v, ok := b.Lookup(name); ok {
		return v
	}
	return b.Initializer(name, shape, fill())
}

// unfoldKernel returns the one-hot kernel [c·KH·KW, 1, KH, KW] of a grouped
// Conv (group c) whose output channel i·K + k copies tap k of channel i
// (flip: tap K−1−k), the product of a [1,K,1,KH,KW] identity and c ones,
// which ORT folds once per session. Kernels are shared by name.
func unfoldKernel(b *graph.Builder, prefix string, c, kh, kw int, flip bool) graph.Value {
	k := int64(kh * kw)
	eye := constant(b, fmt.Sprintf("%s.%dx%d", prefix, kh, kw), []int64{1, k, 1, int64(kh), int64(kw)}, func() []float32 {
		e := make([]float32, k*k)
		for i := range k {
			j := i
			if flip {
				j = k - 1 - i
			}
			e[i*k+j] = 1
		}
		return e
	})
	name := fmt.Sprintf("%s.%dx%dx%d", prefix, c, kh, kw)
	if kern, ok := b.Lookup(name); ok {
		return kern
	}
	ones := constant(b, fmt.Sprintf("const.ones.%d", c), []int64{int64(c), 1, 1, 1, 1}, func() []float32 {
		o := make([]float32, c)
		for i := range o {
			o[i] = 1
		}
		return o
	})
	return b.Reshape(name, b.Mul(name+".e", ones, eye), int64(c)*k, 1, int64(kh), int64(kw))
}

// convInputGrad is the gradient with respect to the unpadded convolution
// input ([N,C,H,W]) given dz and the kernel w. Stride 1: a Conv of dz with the
// flipped, transposed kernel; otherwise ConvTranspose with the padding
// cropped and output_padding for the rows/columns the strided convolution
// never read.
func convInputGrad(b *graph.Builder, pre string, dz, w graph.Value, g convGeom) graph.Value {
	if g.SH == 1 && g.SW == 1 {
		wt := b.Transpose(pre+".wt", w, 1, 0, 2, 3)
		wf := b.Slice(pre+".wflip", wt, []int64{-1, -1}, []int64{math.MinInt64, math.MinInt64}, []int64{2, 3}, []int64{-1, -1})
		bt, bl := g.KH-1-g.PT, g.KW-1-g.PL
		et, el := g.H-g.HO-bt+g.KH-1, g.W-g.WO-bl+g.KW-1
		return b.Conv(pre+".in.grad", dz, wf, graph.Value{}, graph.ConvAttrs{Pads: []int64{int64(bt), int64(bl), int64(et), int64(el)}})
	}
	endH, opH := transposedEnd(g.HO, g.SH, g.KH, g.PT, g.H)
	endW, opW := transposedEnd(g.WO, g.SW, g.KW, g.PL, g.W)
	return b.ConvTranspose(pre+".in.grad", dz, w, graph.ConvAttrs{Strides: g.strides(),
		Pads: []int64{int64(g.PT), int64(g.PL), int64(endH), int64(endW)}, OutputPadding: []int64{int64(opH), int64(opW)}})
}

// transposedEnd returns the end padding and output_padding of a ConvTranspose
// whose full output, (out-1)·s + k rows, covers the padded input from row 0;
// the wanted rows are [begin, begin+in).
func transposedEnd(out, s, k, begin, in int) (end, outPad int) {
	full := (out-1)*s + k
	if full >= begin+in {
		return full - begin - in, 0
	}
	return 0, begin + in - full
}

// sliceBack returns the gradient of one piece of a zero-padded concatenation:
// channels [c0, c0+c) and rows/columns [0,h)×[0,w) of the concatenation's
// gradient dcat; no op when the piece is all of it.
func sliceBack(b *graph.Builder, out string, dcat graph.Value, c0, c, h, w int) graph.Value {
	if len(dcat.Shape) == 4 && c0 == 0 && int64(c) == dcat.Shape[1] && int64(h) == dcat.Shape[2] && int64(w) == dcat.Shape[3] {
		return dcat
	}
	return b.Slice(out, dcat, []int64{int64(c0), 0, 0}, []int64{int64(c0 + c), int64(h), int64(w)}, []int64{1, 2, 3}, nil)
}

// BatchNormMomentum is the weight of the batch statistics in the running
// statistics the training step updates (PyTorch's momentum 0.1):
// r' = (1 − m)·r + m·s, the variance unbiased.
const BatchNormMomentum = 0.1

// bnState names the values of a training-mode batch norm that its backward
// pass and the running-statistics update read.
type bnState struct {
	xhat, inv, scale4 graph.Value
	mean, varB        graph.Value // batch mean and biased variance, [1,F,1,1]
}

// batchNormTrain normalises z [N,F,H,W] per channel with the batch's
// statistics (biased variance), then scales and shifts.
func batchNormTrain(b *graph.Builder, pre string, z, scale, bias graph.Value, eps float32) (graph.Value, bnState) {
	var s bnState
	s.mean = b.ReduceMean(pre+".bmean", z, true, 0, 2, 3)
	zc := b.Sub(pre+".zc", z, s.mean)
	s.varB = b.ReduceMean(pre+".bvar", b.Mul(pre+".zc2", zc, zc), true, 0, 2, 3)
	s.inv = b.Reciprocal(pre+".inv", b.Sqrt(pre+".std", b.Add(pre+".vareps", s.varB, b.Scalar(fmt.Sprintf("bn.epsilon.%g", eps), eps))))
	s.xhat = b.Mul(pre+".xhat", zc, s.inv)
	s.scale4 = b.Unsqueeze(pre+".scale4", scale, 0, 2, 3)
	b4 := b.Unsqueeze(pre+".bias4", bias, 0, 2, 3)
	return b.Add(pre, b.Mul(pre+".scaled", s.xhat, s.scale4), b4), s
}

// batchNormGrad returns dz and the gradients of scale and bias, from dy:
// dz = inv·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dy·scale.
func batchNormGrad(b *graph.Builder, pre string, dy graph.Value, s bnState) (dz, dscale, dbias graph.Value) {
	dscale = b.ReduceSum(pre+".scale.grad", b.Mul(pre+".dyx", dy, s.xhat), false, 0, 2, 3)
	dbias = b.ReduceSum(pre+".bias.grad", dy, false, 0, 2, 3)
	dx := b.Mul(pre+".xhat.grad", dy, s.scale4)
	m1 := b.ReduceMean(pre+".xhat.grad.mean", dx, true, 0, 2, 3)
	m2 := b.ReduceMean(pre+".xhat.grad.proj", b.Mul(pre+".xhat.grad.x", dx, s.xhat), true, 0, 2, 3)
	t := b.Sub(pre+".grad.c", b.Sub(pre+".grad.a", dx, m1), b.Mul(pre+".grad.b", s.xhat, m2))
	return b.Mul(pre+".grad", t, s.inv), dscale, dbias
}

// runningStats returns l<i>.bn.mean.next and .var.next:
// r' = (1 − m)·r + m·batch statistic, the variance made unbiased with
// M/(M − 1), M = N·HO·WO values per channel (n: the batch size, [1,1]).
func runningStats(b *graph.Builder, pre string, s bnState, mean, variance, n graph.Value, hw int) (graph.Value, graph.Value) {
	keep := b.Scalar("bn.keep", 1-BatchNormMomentum)
	mom := b.Scalar("bn.momentum", BatchNormMomentum)
	m := b.Mul(pre+".count", n, b.Scalar(fmt.Sprintf("const.f.%d", hw), float32(hw)))
	corr := b.Div(pre+".unbias", m, b.Sub(pre+".count1", m, b.Scalar("const.f.1", 1)))
	bm := b.Reshape(pre+".bmean.v", s.mean, -1)
	bv := b.Reshape(pre+".bvar.v", b.Mul(pre+".uvar", s.varB, corr), -1)
	mn := b.Add(pre+".mean.next", b.Mul(pre+".mean.keep", mean, keep), b.Mul(pre+".mean.new", bm, mom))
	vn := b.Add(pre+".var.next", b.Mul(pre+".var.keep", variance, keep), b.Mul(pre+".var.new", bv, mom))
	return mn, vn
}
