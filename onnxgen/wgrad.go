package onnxgen

import (
	"fmt"

	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// WeightGrad is a formulation of a convolution's weight gradient
// dW[f,c,ky,kx] = Σ_n,oy,ox dz[n,f,oy,ox]·xp[n,c,oy·sh+ky,ox·sw+kx] (xp: the
// input with the 'same' padding) in the training graph. All compute the same
// sums in different orders, so they agree to float rounding; the gradient
// checks (internal/gradcheck) run each of them. See "Conv weight" in doc.go
// for the measurements behind the per-layer choice.
type WeightGrad int

const (
	// WeightGradAuto (zero): per layer, the form the cost model
	// (chooseWeightGrad) predicts fastest on its geometry.
	WeightGradAuto WeightGrad = iota
	// WeightGradColsX: im2col columns of x from one grouped Conv with
	// one-hot kernels, a batched MatMul with dzᵀ, ReduceSum over N.
	WeightGradColsX
	// WeightGradColsDz: the shifted copies of dz as columns (grouped
	// one-hot Conv of dz), a batched MatMul with xᵀ. Stride 1 only: a
	// strided layer gets WeightGradColsX.
	WeightGradColsDz
	// WeightGradDirect: a Conv of the transposed padded input [C,N,H,W]
	// with the transposed dz [F,N,HO,WO] as kernel (dilation = stride).
	WeightGradDirect
	// WeightGradSlices: the columns of x as KH·KW Slices of the padded
	// input, one Concat, a batched MatMul with dzᵀ.
	WeightGradSlices
	// WeightGradSeparable: the one-hot columns of x in two grouped Convs,
	// 1×KW then KH×1 (C·(KW² + KW·KH²) multiply-adds per pixel instead of
	// C·(KH·KW)²), a batched MatMul with dzᵀ.
	WeightGradSeparable
	numWeightGrad
)

var weightGradNames = [...]string{"auto", "cols-x", "cols-dz", "direct", "slices", "separable"}

// String is the form's name: auto, cols-x, cols-dz, direct, slices,
// separable.
func (f WeightGrad) String() string {
	if f < 0 || f >= numWeightGrad {
		return fmt.Sprintf("WeightGrad(%d)", int(f))
	}
	return weightGradNames[f]
}

// WeightGradForms lists every form but WeightGradAuto.
func WeightGradForms() []WeightGrad {
	var out []WeightGrad
	for f := WeightGradColsX; f < numWeightGrad; f++ {
		out = append(out, f)
	}
	return out
}

// convWeightGrad emits the weight gradient of the layer of geometry g in
// the form asked for (WeightGradAuto: chooseWeightGrad's).
func convWeightGrad(b *graph.Builder, pre string, x, dz graph.Value, g convGeom, form WeightGrad) graph.Value {
	if form == WeightGradAuto {
		form = chooseWeightGrad(g)
	}
	stride1 := g.SH == 1 && g.SW == 1
	k := g.KH * g.KW
	switch {
	case k == 1 && stride1:
		return weightGradColsX(b, pre, x, dz, g) // a 1×1 stride-1 input is its own im2col
	case form == WeightGradColsDz && stride1:
		return weightGradColsDz(b, pre, x, dz, g)
	case form == WeightGradDirect:
		return weightGradDirect(b, pre, x, dz, g)
	case form == WeightGradSlices:
		return weightGradSlices(b, pre, x, dz, g)
	case form == WeightGradSeparable && g.KH > 1 && g.KW > 1:
		return weightGradSeparable(b, pre, x, dz, g)
	}
	return weightGradColsX(b, pre, x, dz, g)
}

// colsTimesDz is the contraction of the columns cols [N, R, HO, WO] (any
// 4-D layout whose rows R are the column index) with dz: MatMul(cols
// [N,R,HO·WO], dzᵀ [N,HO·WO,F]) summed over N, [R, F].
func colsTimesDz(b *graph.Builder, pre string, cols, dz graph.Value, rows int64, g convGeom) graph.Value {
	c3 := b.Reshape(pre+".cols3", cols, 0, rows, -1)
	d3 := b.Transpose(pre+".dz3t", b.Reshape(pre+".dz3", dz, 0, int64(g.F), -1), 0, 2, 1)
	return b.ReduceSum(pre+".wgrad.t", b.MatMul(pre+".wgrad.n", c3, d3), false, 0)
}

// weightGradColsX: the columns [N, C·KH·KW, HO·WO] come from one grouped
// Conv of x (group = C, the layer's pads and strides) with one-hot kernels
// (output channel c·K + k copies tap k of channel c); the kernel is the
// product of a [1,K,1,KH,KW] identity and C ones, which ORT folds once per
// session. MatMul(cols, dzᵀ) gives [N, C·KH·KW, F], summed over N and
// transposed.
func weightGradColsX(b *graph.Builder, pre string, x, dz graph.Value, g convGeom) graph.Value {
	cols := x
	k := int64(g.KH * g.KW)
	if k > 1 || g.SH != 1 || g.SW != 1 {
		kern := unfoldKernel(b, "const.unfold", g.C, g.KH, g.KW, false)
		cols = b.Conv(pre+".cols", x, kern, graph.Value{}, graph.ConvAttrs{Strides: g.strides(), Pads: g.pads(), Group: int64(g.C)})
	}
	t := b.Transpose(pre+".wgrad.f", colsTimesDz(b, pre, cols, dz, int64(g.C)*k, g), 1, 0)
	return b.Reshape(pre+".w.grad", t, int64(g.F), int64(g.C), int64(g.KH), int64(g.KW))
}

// weightGradColsDz: substituting q = o + k − p (p the top/left padding),
// dW[f,c,k] = Σ_n,q x[n,c,q]·dz[n,f,q − k + p], and the shifted copies
// dzs[n, f·K + k, q] = dz[n,f,q − k + p] (zero outside) are one grouped Conv
// of dz (group = F) with the flipped one-hot kernels and pads
// (KH−1−PT, KW−1−PL, H−HO+PT, W−WO+PL), so its output is H×W. Then
// MatMul(dzs [N,F·K,H·W], xᵀ [N,H·W,C]) gives [N, F·K, C], summed over N and
// transposed to [F, C, K]. Its columns are F·K rows instead of C·K.
func weightGradColsDz(b *graph.Builder, pre string, x, dz graph.Value, g convGeom) graph.Value {
	k := int64(g.KH * g.KW)
	kern := unfoldKernel(b, "const.unfoldflip", g.F, g.KH, g.KW, true)
	bt, bl := g.KH-1-g.PT, g.KW-1-g.PL
	et, el := g.H-g.HO+g.PT, g.W-g.WO+g.PL
	cols := b.Conv(pre+".dzcols", dz, kern, graph.Value{}, graph.ConvAttrs{Pads: []int64{int64(bt), int64(bl), int64(et), int64(el)}, Group: int64(g.F)})
	d3 := b.Reshape(pre+".dzcols3", cols, 0, int64(g.F)*k, -1)
	x3 := b.Transpose(pre+".x3t", b.Reshape(pre+".x3", x, 0, int64(g.C), -1), 0, 2, 1)
	mm := b.MatMul(pre+".wgrad.n", d3, x3)
	t := b.Reshape(pre+".wgrad.fkc", b.ReduceSum(pre+".wgrad.t", mm, false, 0), int64(g.F), k, int64(g.C))
	return b.Reshape(pre+".w.grad", b.Transpose(pre+".wgrad.fck", t, 0, 2, 1), int64(g.F), int64(g.C), int64(g.KH), int64(g.KW))
}

// weightGradDirect: dW is a convolution over (n, oy, ox): Conv of the
// padded input transposed to [C, N, H+pads, W+pads] with dz transposed to
// [F, N, HO, WO] as the kernel and dilations = the layer's strides gives
// [C, F, KH', KW'] (KH' = H + pads − SH·(HO−1) ≥ KH; the extra rows are taps
// the strided layer never used), sliced to KH×KW and transposed.
func weightGradDirect(b *graph.Builder, pre string, x, dz graph.Value, g convGeom) graph.Value {
	xt := b.Transpose(pre+".xt", x, 1, 0, 2, 3)
	dzt := b.Transpose(pre+".dzt", dz, 1, 0, 2, 3)
	d := b.Conv(pre+".wgrad.direct", xt, dzt, graph.Value{}, graph.ConvAttrs{Pads: g.pads(), Dilations: g.strides()})
	if len(d.Shape) == 4 && (d.Shape[2] != int64(g.KH) || d.Shape[3] != int64(g.KW)) {
		d = b.Slice(pre+".wgrad.crop", d, []int64{0, 0}, []int64{int64(g.KH), int64(g.KW)}, []int64{2, 3}, nil)
	}
	return b.Transpose(pre+".w.grad", d, 1, 0, 2, 3)
}

// weightGradSlices: the tap (ky, kx) of the columns is the Slice
// xp[:, :, ky : ky+SH·(HO−1)+1 : SH, kx : ... : SW] of the padded input;
// the K slices Concatenated along channels are the columns [N, K·C, HO,
// WO] (row k·C + c), contracted with dz to [K·C, F], reshaped to [K, C, F]
// and transposed to [F, C, K].
func weightGradSlices(b *graph.Builder, pre string, x, dz graph.Value, g convGeom) graph.Value {
	xp := x
	if g.PT+g.PB+g.PL+g.PR > 0 {
		xp = b.Pad(pre+".xpad", x, 0, 0, int64(g.PT), int64(g.PL), 0, 0, int64(g.PB), int64(g.PR))
	}
	var taps []graph.Value
	for ky := range g.KH {
		for kx := range g.KW {
			taps = append(taps, b.Slice(fmt.Sprintf("%s.tap%d_%d", pre, ky, kx), xp,
				[]int64{int64(ky), int64(kx)},
				[]int64{int64(ky + g.SH*(g.HO-1) + 1), int64(kx + g.SW*(g.WO-1) + 1)},
				[]int64{2, 3}, []int64{int64(g.SH), int64(g.SW)}))
		}
	}
	k := int64(g.KH * g.KW)
	cols := taps[0]
	if k > 1 {
		cols = b.Concat(pre+".cols", 1, taps...)
	}
	t := b.Reshape(pre+".wgrad.kcf", colsTimesDz(b, pre, cols, dz, k*int64(g.C), g), k, int64(g.C), int64(g.F))
	return b.Reshape(pre+".w.grad", b.Transpose(pre+".wgrad.fck", t, 2, 1, 0), int64(g.F), int64(g.C), int64(g.KH), int64(g.KW))
}

// weightGradSeparable: a grouped Conv (group C) with the 1×KW one-hot
// kernel and the layer's left/right pads and column stride gives
// [N, C·KW, H, WO]; a second one (group C·KW) with the KH×1 kernel and the
// top/bottom pads and row stride gives the columns [N, C·KW·KH, HO, WO], row
// (c·KW + kx)·KH + ky; contracted with dz, [C, KW, KH, F], transposed to
// [F, C, KH, KW].
func weightGradSeparable(b *graph.Builder, pre string, x, dz graph.Value, g convGeom) graph.Value {
	kw := unfoldKernel(b, "const.unfold", g.C, 1, g.KW, false)
	rows := b.Conv(pre+".cols.w", x, kw, graph.Value{}, graph.ConvAttrs{Strides: []int64{1, int64(g.SW)},
		Pads: []int64{0, int64(g.PL), 0, int64(g.PR)}, Group: int64(g.C)})
	kh := unfoldKernel(b, "const.unfold", g.C*g.KW, g.KH, 1, false)
	cols := b.Conv(pre+".cols", rows, kh, graph.Value{}, graph.ConvAttrs{Strides: []int64{int64(g.SH), 1},
		Pads: []int64{int64(g.PT), 0, int64(g.PB), 0}, Group: int64(g.C * g.KW)})
	k := int64(g.KH * g.KW)
	t := b.Reshape(pre+".wgrad.cwhf", colsTimesDz(b, pre, cols, dz, int64(g.C)*k, g), int64(g.C), int64(g.KW), int64(g.KH), int64(g.F))
	return b.Transpose(pre+".w.grad", t, 3, 0, 2, 1)
}

// chooseWeightGrad is the cost model's form for a layer. Candidates are
// cols-x, cols-dz (stride 1) and separable (kernels at least 3 in both
// directions); the direct and slices forms are never chosen (slower
// everywhere measured but at one or two points within the noise, and the
// direct form's time varies by up to 3× between rounds). The form before
// the cost model (cols-dz for stride 1 with fewer filters than input
// channels, else cols-x) is kept unless another candidate is predicted at
// least weightGradMargin faster: the measurements' noise is about that, and
// a layer whose form changes changes its trained bits. The choice depends
// on the layer's geometry only; layers smaller than the measured range
// (weightGradMinMACs) keep the earlier form. A 1×1 stride-1 layer's input is its own
// im2col: cols-x without the columns.
func chooseWeightGrad(g convGeom) WeightGrad {
	if g.KH*g.KW == 1 && g.SH == 1 && g.SW == 1 {
		return WeightGradColsX
	}
	base := WeightGradColsX
	if g.SH == 1 && g.SW == 1 && g.F < g.C {
		base = WeightGradColsDz
	}
	if x, _ := weightGradFeatures(g, base); x[0] < weightGradMinMACs {
		return base // below the measured range: the fit's intercepts would decide
	}
	baseCost, _ := weightGradCost(g, base)
	best, cost := base, baseCost*(1-weightGradMargin)
	for _, f := range []WeightGrad{WeightGradColsX, WeightGradColsDz, WeightGradSeparable} {
		if c, ok := weightGradCost(g, f); ok && c < cost {
			best, cost = f, c
		}
	}
	return best
}

// weightGradMinMACs is the smallest contraction (multiply-adds per image)
// the cost model was calibrated on (3 channels to 36 filters, 3×3, 32×32);
// smaller layers keep the earlier form.
const weightGradMinMACs = 1e6

// weightGradMargin is the predicted gain below which chooseWeightGrad keeps
// a layer's earlier form.
const weightGradMargin = 0.10

// weightGradCoef are the cost model's constants per form: ns per unit of
// the features of weightGradFeatures (per image: multiply-adds of the
// contraction, multiply-adds of building the columns, floats of the columns
// and copies) and ns per image per run. They were fitted by non-negative
// least squares on relative error to the fastest of four rounds of
// BenchmarkConvWeightGrad (runner; batch 64, 2 intra-op threads, ORT 1.30,
// this project's 2-core machine), one contraction coefficient shared by the
// forms that run the same batched MatMul; doc.go has the table. The fit
// predicts the measured time within 15% at most points; it ranks the
// candidates as the measurements do at 12 of 18.
var weightGradCoef = [numWeightGrad][4]float64{
	WeightGradColsX:     {0.021233, 0.0090904, 0.55362, 20023},
	WeightGradColsDz:    {0.021233, 0.0093996, 0.63545, 14115},
	WeightGradDirect:    {0.024141, 0, 0.72305, 128280},
	WeightGradSlices:    {0.021233, 0, 0.71836, 8597},
	WeightGradSeparable: {0.021233, 0.018807, 0.54088, 19099},
}

// weightGradCost is the predicted time (ns per image) of form f on the
// layer g, and false when f does not apply (cols-dz on a strided layer,
// separable with a 1-wide kernel: they would emit another form).
func weightGradCost(g convGeom, f WeightGrad) (float64, bool) {
	x, ok := weightGradFeatures(g, f)
	if !ok {
		return 0, false
	}
	c := weightGradCoef[f]
	return c[0]*x[0] + c[1]*x[1] + c[2]*x[2] + c[3], true
}

// weightGradFeatures are, per image, the multiply-adds of the contraction
// with dz, the multiply-adds spent building the columns (the one-hot
// Convs), and the floats written as columns or copies, of form f on g.
func weightGradFeatures(g convGeom, f WeightGrad) ([3]float64, bool) {
	c, fl, k := float64(g.C), float64(g.F), float64(g.KH*g.KW)
	kh, kw := float64(g.KH), float64(g.KW)
	out, in := float64(g.HO*g.WO), float64(g.H*g.W)
	gemm := c * k * fl * out
	switch f {
	case WeightGradColsX:
		return [3]float64{gemm, c * k * k * out, c * k * out}, true
	case WeightGradColsDz:
		if g.SH != 1 || g.SW != 1 {
			return [3]float64{}, false
		}
		return [3]float64{fl * k * c * in, fl * k * k * in, fl * k * in}, true
	case WeightGradDirect:
		// MLAS's im2col of the direct Conv copies the columns, and the
		// transposes move x and dz.
		return [3]float64{gemm, 0, c*k*out + c*in + fl*out}, true
	case WeightGradSlices:
		return [3]float64{gemm, 0, 2 * c * k * out}, true
	case WeightGradSeparable:
		if g.KH == 1 || g.KW == 1 {
			return [3]float64{}, false
		}
		rows := float64(g.H * g.WO)
		return [3]float64{gemm, c*kw*kw*rows + c*kw*kh*kh*out, c*kw*rows + c*k*out}, true
	}
	return [3]float64{}, false
}

// ConvShape is one convolution's geometry for CompileWeightGrad: input
// channels and size, filters, kernel, strides ('same' padding).
type ConvShape struct {
	C, H, W, F, KH, KW, SH, SW int
}

// CompileWeightGrad writes a graph holding only the weight gradient of a
// convolution of shape s in the given form, for measuring the forms: inputs
// "x" float[N,C,H,W] and "dz" float[N,F,HO,WO], output "dw" float[F,C,KH,KW].
func CompileWeightGrad(s ConvShape, form WeightGrad) (*onnxpb.ModelProto, error) {
	if s.C < 1 || s.H < 1 || s.W < 1 || s.F < 1 || s.KH < 1 || s.KW < 1 || s.SH < 1 || s.SW < 1 || s.KH%2 == 0 || s.KW%2 == 0 {
		return nil, fmt.Errorf("onnxgen: weight gradient of %+v: want positive sizes and odd kernels", s)
	}
	if form < 0 || form >= numWeightGrad {
		return nil, fmt.Errorf("onnxgen: %v is not a weight-gradient form", form)
	}
	g := convGeom{C: s.C, H: s.H, W: s.W, F: s.F, KH: s.KH, KW: s.KW, SH: s.SH, SW: s.SW}
	g.PT, g.PB, g.HO = samePadding(g.H, g.KH, g.SH)
	g.PL, g.PR, g.WO = samePadding(g.W, g.KW, g.SW)
	g.YH, g.YW = g.HO, g.WO
	b := graph.NewBuilder("nas.wgrad")
	x := b.Input("x", graph.Float, graph.Batch, int64(g.C), int64(g.H), int64(g.W))
	dz := b.Input("dz", graph.Float, graph.Batch, int64(g.F), int64(g.HO), int64(g.WO))
	b.Output(b.Identity("dw", convWeightGrad(b, "l0.conv", x, dz, g, form)))
	m, err := b.Model()
	if err != nil {
		return nil, fmt.Errorf("onnxgen: weight gradient of %+v, %v: %w", s, form, err)
	}
	return m, nil
}
