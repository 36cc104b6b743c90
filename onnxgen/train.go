package onnxgen

import (
	"fmt"
	"math"
	"strings"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// TrainOptions configures the training-step graph: the compiler's Options
// (batch norm, ε; Seed and Params are not used: the parameters are inputs)
// and the constants of SGD, baked into the graph (lr is an input).
type TrainOptions struct {
	Options
	// Momentum is μ, in [0, 1). Zero: plain SGD; the momentum buffers are
	// still inputs and outputs (p.mom.next = d), so the interface is fixed.
	Momentum float32
	// WeightDecay is the L2 coefficient wd ≥ 0 added to the gradient
	// (PyTorch's weight_decay, applied to every trained parameter). Zero: none.
	WeightDecay float32
	// Nesterov selects Nesterov momentum; it needs Momentum > 0 (as in
	// PyTorch). False: classical momentum.
	Nesterov bool
	// WeightGrad forces one formulation of every convolution's weight
	// gradient (for the gradient checks and the measurements). Zero
	// (WeightGradAuto): per layer, the cost model's choice.
	WeightGrad WeightGrad
}

// Validate checks o; the error says which field is wrong.
func (o TrainOptions) Validate() error {
	if err := o.Options.Validate(); err != nil {
		return err
	}
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	if !finite(o.Momentum) || o.Momentum < 0 || o.Momentum >= 1 {
		return fmt.Errorf("onnxgen: momentum %g: want 0 ≤ momentum < 1", o.Momentum)
	}
	if !finite(o.WeightDecay) || o.WeightDecay < 0 {
		return fmt.Errorf("onnxgen: weight decay %g: want a finite value ≥ 0", o.WeightDecay)
	}
	if o.Nesterov && o.Momentum == 0 {
		return fmt.Errorf("onnxgen: Nesterov momentum needs momentum > 0")
	}
	if o.WeightGrad < 0 || o.WeightGrad >= numWeightGrad {
		return fmt.Errorf("onnxgen: %v is not a weight-gradient form", o.WeightGrad)
	}
	return nil
}

// CompileTrain compiles a into the training-step graph for images of size in
// and classes classes; see "Training graphs" in the package doc for its
// inputs, outputs and semantics.
func CompileTrain(a Arch, in Input, classes int, opts TrainOptions) (*onnxpb.ModelProto, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	st, err := compileStep(a, in, classes, opts, true)
	return st.model, err
}

// CompileEval compiles a into the evaluation graph: inputs image, label and
// every parameter; outputs loss and correct (batch norm with the running
// statistics).
func CompileEval(a Arch, in Input, classes int, opts Options) (*onnxpb.ModelProto, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	st, err := compileStep(a, in, classes, TrainOptions{Options: opts}, false)
	return st.model, err
}

// isRunningStat reports whether parameter n is a batch norm's running mean or
// variance: state updated by the training step, but not trained (no momentum
// buffer, no gradient).
func isRunningStat(n string) bool {
	return strings.HasSuffix(n, ".bn.mean") || strings.HasSuffix(n, ".bn.var")
}

// samePadding is the 'same' padding of an odd kernel (the spaces allow only
// odd sizes): (k-1)/2 on each side, as PyTorch's padding=(k-1)//2, so the
// output is floor((in-1)/s)+1 = ceil(in/s). Symmetric pads also keep the
// models runnable by onnx-go, which rejects asymmetric ones.
func samePadding(in, k, s int) (before, after, out int) {
	p := (k - 1) / 2
	return p, p, (in+2*p-k)/s + 1
}

// step is a compiled training-step or evaluation graph: the model, its
// signature and, for a training step, its state pairs (what the next step
// reads from this one's outputs), as the builder declared them.
type step struct {
	model           *onnxpb.ModelProto
	inputs, outputs []graph.Value
	state           []child.State
}

// compileStep builds the training-step graph (train) or the evaluation graph.
func compileStep(a Arch, in Input, classes int, opts TrainOptions, train bool) (step, error) {
	opts.Params = nil
	specs, shapes, head, err := specsFor(a, in, classes, opts.Options)
	if err != nil {
		return step{}, err
	}
	var st step
	convs := make([]convGeom, len(a.Layers))
	for i, l := range a.Layers {
		s := shapes[i]
		g := convGeom{C: s.In.C, H: s.In.H, W: s.In.W, F: l.Filters, KH: l.KH, KW: l.KW, SH: l.SH, SW: l.SW,
			Pool: l.Pool, YH: s.Out.H, YW: s.Out.W}
		g.PT, g.PB, g.HO = samePadding(g.H, g.KH, g.SH)
		g.PL, g.PR, g.WO = samePadding(g.W, g.KW, g.SW)
		convs[i] = g
	}
	name := "nas.eval"
	if train {
		name = "nas.train"
	}
	b := graph.NewBuilder(name)
	img := b.Input(InputImage, graph.Float, graph.Batch, int64(in.C), int64(in.H), int64(in.W))
	label := b.Input(InputLabel, graph.Int64, graph.Batch)
	var lr graph.Value
	if train {
		lr = b.Input(InputLR, graph.Float, 1)
	}
	w := make(map[string]graph.Value, len(specs))
	for i, p := range specs {
		w[p.Name] = b.Input(p.Name, graph.Float, p.Shape...)
		if train {
			st.state = append(st.state, child.State{Input: p.Name, Output: p.Name + ".next", Param: i})
		}
	}
	mom := make(map[string]graph.Value, len(specs))
	if train {
		for _, p := range specs {
			if !isRunningStat(p.Name) {
				mom[p.Name] = b.Input(p.Name+".mom", graph.Float, p.Shape...)
				st.state = append(st.state, child.State{Input: p.Name + ".mom", Output: p.Name + ".mom.next", Param: -1})
			}
		}
	}
	var bnHook func(int, graph.Value) graph.Value
	bns := make([]bnState, len(a.Layers))
	if train {
		bnHook = func(i int, z graph.Value) graph.Value {
			pre := fmt.Sprintf("l%d.bn", i)
			var y graph.Value
			y, bns[i] = batchNormTrain(b, pre, z, w[pre+".scale"], w[pre+".bias"], opts.epsilon())
			return y
		}
	}
	f, err := forwardPass(b, a, shapes, head, img, w, opts.Options, bnHook)
	if err != nil {
		return step{}, err
	}
	loss0, logProb := b.SoftmaxCrossEntropyLoss("loss.0", "log_prob", f.logits, label)
	loss := b.Reshape(MetricLoss, loss0, 1)
	hit := b.Equal("pred.hit", b.ArgMax("pred", f.logits, 1, false), label)
	correct := b.ReduceSum(MetricRight, b.Cast("pred.hit.i", hit, graph.Int64), true, 0)
	b.Output(loss)
	b.Output(correct)
	if train {
		next := backward(b, a, convs, head, f, bns, w, logProb, label, classes, opts)
		for _, p := range specs {
			if !isRunningStat(p.Name) {
				next[p.Name], next[p.Name+".mom"] = sgdStep(b, p.Name, w[p.Name], mom[p.Name], next[p.Name], lr, opts)
			}
		}
		for _, p := range specs {
			b.Output(next[p.Name])
		}
		for _, p := range specs {
			if !isRunningStat(p.Name) {
				b.Output(next[p.Name+".mom"])
			}
		}
	}
	m, err := b.Model()
	if err != nil {
		return step{}, fmt.Errorf("onnxgen: %s graph of %q: %w", strings.TrimPrefix(name, "nas."), Format(a), err)
	}
	st.model, st.inputs, st.outputs = m, b.Inputs(), b.Outputs()
	return st, nil
}

// backward emits the gradient of the mean loss with respect to every trained
// parameter, and the running statistics' next values; it returns them by
// parameter name (gradients) and by name (p.next for the running statistics).
func backward(b *graph.Builder, a Arch, convs []convGeom, head Input, f forwardValues, bns []bnState, w map[string]graph.Value,
	logProb, label graph.Value, classes int, opts TrainOptions) map[string]graph.Value {
	out := map[string]graph.Value{}
	onehot := b.OneHot("label.onehot", label, int64(classes), 0, 1)
	n := b.ReduceSum("batch.n", onehot, true, 0, 1) // N as a float [1,1]
	dl := b.Div("logits.grad", b.Sub("logits.grad.n", b.Exp("prob", logProb), onehot), n)
	// Head: Gemm, GlobalAveragePool, concatenation.
	// dW = dlᵀ·flat, a contraction over the batch: as a broadcast product
	// [N,classes,1]·[N,1,C] summed over N. Gemm(dl, flat, transA) would
	// contract the batch as well; the tensors are small (classes × C per
	// image), and another form would change every trained model's bits.
	outer := b.Mul("head.fc.w.grad.n", b.Unsqueeze("logits.grad.u", dl, 2), b.Unsqueeze("head.flat.u", f.flat, 1))
	out["head.fc.w"] = b.ReduceSum("head.fc.w.grad", outer, false, 0)
	out["head.fc.b"] = b.ReduceSum("head.fc.b.grad", dl, false, 0)
	dgap := b.Unsqueeze("head.gap.grad", b.MatMul("head.flat.grad", dl, w["head.fc.w"]), 2, 3)
	hw := head.H * head.W
	spread := constant(b, fmt.Sprintf("const.gap.%dx%d", head.H, head.W), []int64{1, 1, int64(head.H), int64(head.W)}, func() []float32 {
		v := make([]float32, hw)
		for i := range v {
			v[i] = 1 / float32(hw)
		}
		return v
	})
	dhead := b.Mul("head.in.grad", dgap, spread)
	dy := make([][]graph.Value, len(convs))
	c0 := 0
	for _, j := range a.HeadInputs() {
		g := convs[j]
		dy[j] = append(dy[j], sliceBack(b, fmt.Sprintf("head.in.grad%d", j), dhead, c0, g.F, g.YH, g.YW))
		c0 += g.F
	}
	for i := len(convs) - 1; i >= 0; i-- {
		g := convs[i]
		pre := fmt.Sprintf("l%d.conv", i)
		var drelu graph.Value
		if g.Pool > 0 {
			drelu = maxPoolGrad(b, fmt.Sprintf("l%d.pool", i), fmt.Sprintf("l%d.relu.grad", i), f.relu[i],
				sumGrads(b, fmt.Sprintf("l%d.pool.grad", i), dy[i]), g)
		} else {
			drelu = sumGrads(b, fmt.Sprintf("l%d.relu.grad", i), dy[i])
		}
		dz := reluGrad(b, pre+".out.grad", f.relu[i], drelu)
		if opts.BatchNorm {
			bn := fmt.Sprintf("l%d.bn", i)
			dz, out[bn+".scale"], out[bn+".bias"] = batchNormGrad(b, bn, dz, bns[i])
			out[bn+".mean"], out[bn+".var"] = runningStats(b, bn, bns[i], w[bn+".mean"], w[bn+".var"], n, g.HO*g.WO)
		}
		out[pre+".b"] = b.ReduceSum(pre+".b.grad", dz, false, 0, 2, 3)
		out[pre+".w"] = convWeightGrad(b, pre, f.in[i], dz, g, opts.WeightGrad)
		if len(a.Layers[i].Inputs) == 0 {
			continue // fed by the image only: no input gradient
		}
		dx := convInputGrad(b, pre, dz, w[pre+".w"], g)
		c0 := 0
		for _, j := range a.Layers[i].Inputs {
			p := convs[j]
			dy[j] = append(dy[j], sliceBack(b, fmt.Sprintf("l%d.in.grad%d", i, j), dx, c0, p.F, p.YH, p.YW))
			c0 += p.F
		}
	}
	return out
}

// sgdStep emits one SGD step with PyTorch's semantics for parameter p (value
// w, momentum buffer v, gradient g): d = g + wd·w; v' = μ·v + d;
// w' = w − lr·v' (Nesterov: w' = w − lr·(d + μ·v')). It returns p.next and
// p.mom.next.
func sgdStep(b *graph.Builder, p string, w, v, g, lr graph.Value, o TrainOptions) (graph.Value, graph.Value) {
	d := g
	if o.WeightDecay != 0 {
		d = b.Add(p+".d", g, b.Mul(p+".wd", w, b.Scalar("sgd.weight_decay", o.WeightDecay)))
	}
	var vn graph.Value
	if o.Momentum != 0 {
		vn = b.Add(p+".mom.next", b.Mul(p+".mom.mu", v, b.Scalar("sgd.momentum", o.Momentum)), d)
	} else {
		vn = b.Identity(p+".mom.next", d)
	}
	step := vn
	if o.Nesterov {
		step = b.Add(p+".nesterov", d, b.Mul(p+".mom.next.mu", vn, b.Scalar("sgd.momentum", o.Momentum)))
	}
	return b.Sub(p+".next", w, b.Mul(p+".step", step, lr)), vn
}
