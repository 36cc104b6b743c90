package onnxgen

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/graph"
)

// Language models: a recurrent cell (cell.go) compiled into a word- or
// character-level LM child (CompileLM), its cost (LMCost) and its one-step
// inference model (LMInference, lminfer.go).
//
// The network, for tokens x_1 … x_T of N streams: e_t = emb[x_t]; per layer
// l, h^l_t, c^l_t = cell(in_t, h^l_{t-1}, c^l_{t-1}) with in_t = e_t for
// layer 0 and h^{l-1}_t above it; logits_t = h^{top}_t·out.w + out.b; the
// loss is the mean softmax cross-entropy of logits_t against the targets
// over all T·N tokens. Leaf i of layer l computes
// act(comb(W_i·in_t, U_i·h_{t-1} + b_i)) with W_i, U_i, b_i the i-th
// column block of l<l>.w [in, Base·H], l<l>.u [H, Base·H] and l<l>.b
// [Base·H]: one MatMul each for all the leaves (layer 0's input projection
// of the whole window at once), then a Split, as TensorFlow's NASCell does.
//
// Parameters, in order: emb [Vocab, Embed]; per layer l<l>.w, l<l>.u,
// l<l>.b; out.w [Hidden, Vocab], out.b [Vocab]; all drawn uniform(−s, s),
// s = InitScale, from a PCG source seeded with Seed, in that order.
//
// The training graph (inputs tokens, targets int64 [Batch, Steps], lr
// float [1], the parameters, then l<l>.h and l<l>.c [Batch, Hidden] per
// layer; outputs loss [1], every p.next, then l<l>.h.next and l<l>.c.next):
// the forward above unrolled over the window, the gradient by hand-written
// backpropagation through time over the whole window, truncated at its
// start (the incoming h and c are constants), global-norm clipping over
// all parameters with torch's clip_grad_norm_ semantics (g ← g·min(clip /
// (‖g‖ + 1e-6), 1)), and plain SGD p.next = p − lr·g. The embedding's
// gradient is a ScatterElements(reduction=add): ScatterND(reduction=add)
// gives wrong, varying sums in ORT 1.30 with two or more intra-op threads
// when a token repeats. The evaluation graph has the same forward, inputs
// tokens, targets, the parameters and the states of EvalBatch rows;
// outputs loss and the states' next values. Perplexity is exp(mean loss).
//
// Unrolled, not Scan: measured on this machine (2 cores shared, ORT 1.30,
// 2 intra-op threads) for the NASCell at Steps 35, Hidden 128, Vocab 50,
// Batch 32, one layer, see TestLMMeasure in internal/gradcheck:
//
//	graph        nodes   bytes     session creation   step
//	training     (see lmMeasured below)
//
// lmMeasured is filled from that test's output.
const lmMeasured = ""

// The roles of an LM's graphs.
const (
	InputTokens  = "tokens"
	InputTargets = "targets"
	// The inference model's inputs and outputs (LMInference).
	InputToken = "token"
	InputH     = "h"
	InputC     = "c"
	OutputH    = "h.next"
	OutputC    = "c.next"
)

// LMOptions are the sizes and constants of a language model.
type LMOptions struct {
	// Vocab is the number of token types (at least 2).
	Vocab int
	// Embed is the embedding size. Zero: Hidden.
	Embed int
	// Hidden is the cell's state size H (at least 1).
	Hidden int
	// Layers is the number of stacked cells, 1 or 2. Zero: 1.
	Layers int
	// Steps is the BPTT window T, the columns of a batch row (at least 1).
	Steps int
	// Batch is the number of streams a training step reads (at least 1);
	// h and c have this many rows.
	Batch int
	// EvalBatch is the number of streams of an evaluation batch. Zero: Batch.
	EvalBatch int
	// Clip is the global gradient norm's bound, torch's clip_grad_norm_:
	// the gradient is multiplied by min(Clip/(‖g‖+1e-6), 1). Zero: 5;
	// negative: no clipping.
	Clip float32
	// InitScale is s: every parameter starts uniform in (−s, s). Zero: 0.1.
	InitScale float32
	// Seed seeds the parameters' initial values.
	Seed uint64
}

// The defaults of LMOptions.
const (
	DefaultLMClip      = 5
	DefaultLMInitScale = 0.1
)

// withDefaults fills in the zero fields that have defaults.
func (o LMOptions) withDefaults() LMOptions {
	if o.Embed == 0 {
		o.Embed = o.Hidden
	}
	if o.Layers == 0 {
		o.Layers = 1
	}
	if o.EvalBatch == 0 {
		o.EvalBatch = o.Batch
	}
	if o.Clip == 0 {
		o.Clip = DefaultLMClip
	}
	if o.InitScale == 0 {
		o.InitScale = DefaultLMInitScale
	}
	return o
}

// Validate checks o (after its defaults); the error names the field.
func (o LMOptions) Validate() error {
	o = o.withDefaults()
	const most = 1 << 24
	for _, f := range []struct {
		name   string
		v, min int
	}{{"vocabulary", o.Vocab, 2}, {"embedding size", o.Embed, 1}, {"hidden size", o.Hidden, 1},
		{"steps", o.Steps, 1}, {"batch", o.Batch, 1}, {"evaluation batch", o.EvalBatch, 1}} {
		if f.v < f.min || f.v > most {
			return fmt.Errorf("onnxgen: LM %s %d: want %d to %d", f.name, f.v, f.min, most)
		}
	}
	if o.Layers != 1 && o.Layers != 2 {
		return fmt.Errorf("onnxgen: LM layers %d: want 1 or 2", o.Layers)
	}
	if math.IsNaN(float64(o.Clip)) || math.IsInf(float64(o.Clip), 0) {
		return fmt.Errorf("onnxgen: LM clip %g: want a finite number (negative: no clipping)", o.Clip)
	}
	if !(o.InitScale > 0) || math.IsInf(float64(o.InitScale), 0) {
		return fmt.Errorf("onnxgen: LM init scale %g: want a finite number > 0", o.InitScale)
	}
	return nil
}

// lmCheckCell checks that c is a well-formed cell: base 2, 4 or 8, 2·Base−1
// nodes, known choices, the indices in range.
func lmCheckCell(c Cell) error {
	if c.Base != 2 && c.Base != 4 && c.Base != 8 {
		return fmt.Errorf("onnxgen: cell base %d: want 2, 4 or 8", c.Base)
	}
	if len(c.Nodes) != 2*c.Base-1 {
		return fmt.Errorf("onnxgen: cell of base %d has %d nodes, want %d", c.Base, len(c.Nodes), 2*c.Base-1)
	}
	for i, n := range append(append([]CellNode(nil), c.Nodes...), c.Inject) {
		if n.Comb < 0 || n.Comb >= numCombs || n.Act < 0 || n.Act >= numActs {
			what := fmt.Sprintf("node %d", i)
			if i == len(c.Nodes) {
				what = "inject"
			}
			return fmt.Errorf("onnxgen: cell %s: combination %d, activation %d: unknown", what, n.Comb, n.Act)
		}
	}
	if c.InjectAt < 0 || c.InjectAt >= len(c.Nodes) {
		return fmt.Errorf("onnxgen: cell inject at node %d of %d", c.InjectAt, len(c.Nodes))
	}
	if c.CellFrom < 0 || c.CellFrom >= len(c.Nodes) {
		return fmt.Errorf("onnxgen: cell memory from node %d of %d", c.CellFrom, len(c.Nodes))
	}
	return nil
}

// cellChildren returns, for every node of a base-b tree in level order, its
// two children (−1, −1 for a leaf).
func cellChildren(b int) [][2]int {
	ch := make([][2]int, 2*b-1)
	start, size := 0, b
	for k := range b {
		ch[k] = [2]int{-1, -1}
	}
	for size > 1 {
		next := start + size
		for j := range size / 2 {
			ch[next+j] = [2]int{start + 2*j, start + 2*j + 1}
		}
		start, size = next, size/2
	}
	return ch
}

// lmSpecs lists the parameters without data, in order.
func lmSpecs(c Cell, o LMOptions) []Param {
	v, e, h, bh := int64(o.Vocab), int64(o.Embed), int64(o.Hidden), int64(c.Base*o.Hidden)
	ps := []Param{{Name: "emb", Shape: []int64{v, e}}}
	for l := range o.Layers {
		in := e
		if l > 0 {
			in = h
		}
		ps = append(ps,
			Param{Name: fmt.Sprintf("l%d.w", l), Shape: []int64{in, bh}},
			Param{Name: fmt.Sprintf("l%d.u", l), Shape: []int64{h, bh}},
			Param{Name: fmt.Sprintf("l%d.b", l), Shape: []int64{bh}})
	}
	return append(ps, Param{Name: "out.w", Shape: []int64{h, v}}, Param{Name: "out.b", Shape: []int64{v}})
}

// LMInitParams returns the initial parameters of the LM of cell c: every
// value uniform in (−InitScale, InitScale) from a PCG source seeded with
// o.Seed, drawn in parameter order.
func LMInitParams(c Cell, o LMOptions) ([]Param, error) {
	if err := lmCheckCell(c); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	ps := lmSpecs(c, o)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6d)) // "lm"
	s := float64(o.InitScale)
	for i := range ps {
		n, _ := graph.NumElements(ps[i].Shape)
		ps[i].Data = make([]float32, n)
		for k := range ps[i].Data {
			ps[i].Data[k] = float32((2*rng.Float64() - 1) * s)
		}
	}
	return ps, nil
}

// LMCost returns the LM's number of parameters and the multiply-adds of
// its forward pass per token: the matrix products (every layer's input and
// recurrent projections, the softmax layer); the elementwise work of the
// cell (O(Base·Hidden)) is not counted. An invalid cell or options: 0, 0.
func LMCost(c Cell, o LMOptions) (params, macs int64) {
	if lmCheckCell(c) != nil || o.Validate() != nil {
		return 0, 0
	}
	o = o.withDefaults()
	for _, p := range lmSpecs(c, o) {
		n, _ := graph.NumElements(p.Shape)
		params += int64(n)
		if p.Name != "emb" && len(p.Shape) == 2 {
			macs += int64(n)
		}
	}
	return params, macs
}

// CompileLM compiles the language model of cell c: its parameters
// (LMInitParams), training-step and evaluation graphs and their roles:
// batch inputs tokens and targets, the learning rate lr, the parameters'
// state pairs, each layer's h and c as reset states (zero every epoch) and
// evaluation states, visited in order (Sequential), the metric loss (the
// mean cross-entropy per token, finite).
func CompileLM(c Cell, o LMOptions) (child.Net, error) {
	ps, err := LMInitParams(c, o)
	if err != nil {
		return child.Net{}, err
	}
	o = o.withDefaults()
	tr, err := lmStep(c, o, true)
	if err != nil {
		return child.Net{}, err
	}
	ev, err := lmStep(c, o, false)
	if err != nil {
		return child.Net{}, err
	}
	n := child.Net{
		Params:     ps,
		Batch:      []string{InputTokens, InputTargets},
		LR:         InputLR,
		Sequential: true,
		Metrics:    []child.Metric{{Name: MetricLoss, Reduce: child.Mean, Finite: true}},
	}
	for i, p := range ps {
		n.State = append(n.State, child.State{Input: p.Name, Output: p.Name + ".next", Param: i})
	}
	for l := range o.Layers {
		for _, s := range []string{"h", "c"} {
			name := fmt.Sprintf("l%d.%s", l, s)
			n.State = append(n.State, child.State{Input: name, Output: name + ".next", Param: -1, Reset: true})
			n.EvalState = append(n.EvalState, child.State{Input: name, Output: name + ".next", Param: -1})
		}
	}
	if n.Train, err = graphOf(tr); err != nil {
		return child.Net{}, fmt.Errorf("onnxgen: LM training graph: %w", err)
	}
	if n.Eval, err = graphOf(ev); err != nil {
		return child.Net{}, fmt.Errorf("onnxgen: LM evaluation graph: %w", err)
	}
	n.ActivationFloats = lmActivationFloats(c, o)
	return n, n.Validate()
}

// lmActivationFloats counts the training graph's forward values per batch
// row (stream): per step and layer the input projection's and recurrent
// projection's slices (2·Base·H), every node's pre-activation and output
// (2·(2·Base−1)·H), the inject's two (2·H); per step the embedding (E) and
// the logits and log-probabilities (2·V).
func lmActivationFloats(c Cell, o LMOptions) int64 {
	h := int64(o.Hidden)
	perLayer := 2*int64(c.Base)*h + 2*int64(2*c.Base-1)*h + 2*h
	return int64(o.Steps) * (int64(o.Layers)*perLayer + int64(o.Embed) + 2*int64(o.Vocab))
}

// lmNet is an LM graph under construction.
type lmNet struct {
	b    *graph.Builder
	c    Cell
	o    LMOptions
	kids [][2]int
	w    map[string]graph.Value
	zero graph.Value // 0 [1]
	one  graph.Value // 1 [1]
	// mulMask is true on the columns of the leaves that multiply, when
	// some add and some multiply (else the zero Value: one combination
	// for all): the leaves combine over [n, Base·H] at once, then Split.
	mulMask graph.Value
}

func newLMNet(name string, c Cell, o LMOptions) *lmNet {
	return &lmNet{b: graph.NewBuilder(name), c: c, o: o, kids: cellChildren(c.Base), w: map[string]graph.Value{}}
}

// constants defines the shared constants (after the inputs, so that the
// signature comes first in the text form).
func (m *lmNet) constants() {
	m.zero = m.b.Scalar("const.0", 0)
	m.one = m.b.Scalar("const.1", 1)
	mixed := false
	for _, n := range m.c.Nodes[1:m.c.Base] {
		mixed = mixed || n.Comb != m.c.Nodes[0].Comb
	}
	if mixed {
		h := m.o.Hidden
		mask := make([]float32, m.c.Base*h)
		for i, n := range m.c.Nodes[:m.c.Base] {
			if n.Comb == CombMul {
				for k := range h {
					mask[i*h+k] = 1
				}
			}
		}
		f := m.b.Initializer("leaves.mul.f", []int64{int64(len(mask))}, mask)
		m.mulMask = m.b.Greater("leaves.mul", f, m.b.Scalar("const.0.5", 0.5))
	}
}

// cellStep is one cell evaluation's values, kept for the backward pass.
type cellStep struct {
	xw, hu   graph.Value   // [n, Base·H]: W·in, U·h_{t−1}+b
	xwi, hui []graph.Value // per leaf, when not fused
	pre, o   []graph.Value // per node: comb(...) and act(comb(...))
	out      []graph.Value // per node: o, or the inject's output at InjectAt
	inj      graph.Value   // comb_inj(o, c_{t−1}) at InjectAt
	hPrev    graph.Value
	cPrev    graph.Value
	h, c     graph.Value
}

func (m *lmNet) act(name string, a Act, x graph.Value) graph.Value {
	switch a {
	case ActTanh:
		return m.b.Tanh(name, x)
	case ActSigmoid:
		return m.b.Sigmoid(name, x)
	case ActReLU:
		return m.b.Relu(name, x)
	}
	return x
}

func (m *lmNet) comb(name string, c Comb, x, y graph.Value) graph.Value {
	if c == CombMul {
		return m.b.Mul(name, x, y)
	}
	return m.b.Add(name, x, y)
}

// actGrad is the gradient through activation a whose output is y.
func (m *lmNet) actGrad(name string, a Act, y, d graph.Value) graph.Value {
	b := m.b
	switch a {
	case ActTanh: // 1 − y²
		return b.Mul(name, d, b.Sub(name+".dy", m.one, b.Mul(name+".y2", y, y)))
	case ActSigmoid: // y(1 − y)
		return b.Mul(name, d, b.Mul(name+".dy", y, b.Sub(name+".1my", m.one, y)))
	case ActReLU:
		return b.Where(name, b.Greater(name+".mask", y, m.zero), d, m.zero)
	}
	return d
}

// combGrad is the gradient through comb(x, y) to x and to y (needY false:
// y's is not wanted).
func (m *lmNet) combGrad(name string, c Comb, x, y, d graph.Value, needY bool) (graph.Value, graph.Value) {
	if c == CombAdd {
		return d, d
	}
	dx := m.b.Mul(name+".l", d, y)
	if !needY {
		return dx, graph.Value{}
	}
	return dx, m.b.Mul(name+".r", d, x)
}

// cellForward emits one cell evaluation: xw = W·in (its slice for this
// step), h and c the previous states; p names the values ("l0.t3").
func (m *lmNet) cellForward(p string, layer int, xw, h, c graph.Value) *cellStep {
	b, cell, H := m.b, m.c, int64(m.o.Hidden)
	s := &cellStep{xw: xw, hPrev: h, cPrev: c}
	pre := fmt.Sprintf("l%d.", layer)
	s.hu = b.Gemm(p+".hu", h, m.w[pre+"u"], m.w[pre+"b"], graph.GemmAttrs{})
	n := len(cell.Nodes)
	s.pre, s.o, s.out = make([]graph.Value, n), make([]graph.Value, n), make([]graph.Value, n)
	sizes := make([]int64, cell.Base)
	for i := range sizes {
		sizes[i] = H
	}
	var all graph.Value
	switch {
	case m.mulMask.Name != "": // mixed: both combinations, each leaf's picked
		all = b.Where(p+".leaves", m.mulMask, b.Mul(p+".leaves.mul", xw, s.hu), b.Add(p+".leaves.add", xw, s.hu))
	default:
		all = m.comb(p+".leaves", cell.Nodes[0].Comb, xw, s.hu)
	}
	copy(s.pre, b.Split(p+".leaf", all, 1, sizes...))
	for k, nd := range cell.Nodes {
		name := fmt.Sprintf("%s.n%d", p, k)
		if kid := m.kids[k]; kid[0] >= 0 {
			s.pre[k] = m.comb(name+".pre", nd.Comb, s.out[kid[0]], s.out[kid[1]])
		}
		s.o[k] = m.act(name, nd.Act, s.pre[k])
		s.out[k] = s.o[k]
		if k == cell.InjectAt {
			s.inj = m.comb(name+".inj.pre", cell.Inject.Comb, s.o[k], c)
			s.out[k] = m.act(name+".inj", cell.Inject.Act, s.inj)
		}
	}
	s.h, s.c = s.out[n-1], s.pre[cell.CellFrom]
	return s
}

// cellBackward emits the gradient of one cell evaluation given dh and dc
// (the zero Value: none) of its outputs; it returns the gradients of xw and
// hu ([n, Base·H]) and, if prev, of c_{t−1} (of h_{t−1}: dhu·Uᵀ, the
// caller's).
func (m *lmNet) cellBackward(p string, s *cellStep, dh, dc graph.Value, prev bool) (dxw, dhu, dcPrev graph.Value) {
	b, cell := m.b, m.c
	n := len(cell.Nodes)
	dout := make([]graph.Value, n)
	dout[n-1] = dh
	dpre := make([]graph.Value, n)
	for k := n - 1; k >= 0; k-- {
		name := fmt.Sprintf("%s.n%d.grad", p, k)
		d := dout[k]
		if k == cell.InjectAt {
			dz := m.actGrad(name+".inj", cell.Inject.Act, s.out[k], d)
			d, dcPrev = m.combGrad(name+".inj", cell.Inject.Comb, s.o[k], s.cPrev, dz, prev)
		}
		d = m.actGrad(name+".act", cell.Nodes[k].Act, s.o[k], d)
		if k == cell.CellFrom && dc.Name != "" {
			d = b.Add(name+".c", d, dc)
		}
		dpre[k] = d
		if kid := m.kids[k]; kid[0] >= 0 {
			dout[kid[0]], dout[kid[1]] = m.combGrad(name, cell.Nodes[k].Comb, s.out[kid[0]], s.out[kid[1]], d, true)
		}
	}
	dall := b.Concat(p+".leaves.grad", 1, dpre[:cell.Base]...)
	if m.mulMask.Name == "" {
		dxw, dhu = m.combGrad(p+".leaves.grad", cell.Nodes[0].Comb, s.xw, s.hu, dall, true)
		return dxw, dhu, dcPrev
	}
	dxw = b.Where(p+".xw.grad", m.mulMask, b.Mul(p+".xw.grad.mul", dall, s.hu), dall)
	dhu = b.Where(p+".hu.grad", m.mulMask, b.Mul(p+".hu.grad.mul", dall, s.xw), dall)
	return dxw, dhu, dcPrev
}

// rows is rows [t·n, (t+1)·n) of x.
func (m *lmNet) rows(name string, x graph.Value, t, n int) graph.Value {
	return m.b.Slice(name, x, []int64{int64(t * n)}, []int64{int64((t + 1) * n)}, []int64{0}, nil)
}

// lmStep builds the training-step graph (train) or the evaluation graph.
func lmStep(c Cell, o LMOptions, train bool) (step, error) {
	name, rowsN := "nas.lm.eval", o.EvalBatch
	if train {
		name, rowsN = "nas.lm.train", o.Batch
	}
	m := newLMNet(name, c, o)
	b := m.b
	T, N, H, V := o.Steps, rowsN, int64(o.Hidden), int64(o.Vocab)
	TN := int64(T * N)
	tokens := b.Input(InputTokens, graph.Int64, int64(N), int64(T))
	targets := b.Input(InputTargets, graph.Int64, int64(N), int64(T))
	var lr graph.Value
	if train {
		lr = b.Input(InputLR, graph.Float, 1)
	}
	specs := lmSpecs(c, o)
	for _, p := range specs {
		m.w[p.Name] = b.Input(p.Name, graph.Float, p.Shape...)
	}
	hIn, cIn := make([]graph.Value, o.Layers), make([]graph.Value, o.Layers)
	for l := range o.Layers {
		hIn[l] = b.Input(fmt.Sprintf("l%d.h", l), graph.Float, int64(N), H)
		cIn[l] = b.Input(fmt.Sprintf("l%d.c", l), graph.Float, int64(N), H)
	}
	m.constants()
	var st step
	if train {
		for i, p := range specs {
			st.state = append(st.state, child.State{Input: p.Name, Output: p.Name + ".next", Param: i})
		}
	}

	// Forward.
	flat := b.Reshape("tokens.flat", b.Transpose("tokens.tm", tokens, 1, 0), TN) // time-major: row t·N + n
	x := b.Gather("emb.x", m.w["emb"], flat)                                     // [T·N, E]
	inputs := make([]graph.Value, o.Layers)                                      // each layer's input [T·N, in]
	steps := make([][]*cellStep, o.Layers)
	hNext, cNext := make([]graph.Value, o.Layers), make([]graph.Value, o.Layers)
	for l := range o.Layers {
		inputs[l] = x
		xwAll := b.MatMul(fmt.Sprintf("l%d.xw", l), x, m.w[fmt.Sprintf("l%d.w", l)]) // [T·N, Base·H]
		h, cc := hIn[l], cIn[l]
		hs := make([]graph.Value, T)
		for t := range T {
			p := fmt.Sprintf("l%d.t%d", l, t)
			xw := xwAll
			if T > 1 {
				xw = m.rows(p+".xw", xwAll, t, N)
			}
			s := m.cellForward(p, l, xw, h, cc)
			steps[l] = append(steps[l], s)
			h, cc = s.h, s.c
			hs[t] = h
		}
		hNext[l], cNext[l] = h, cc
		x = hs[0]
		if T > 1 {
			x = b.Concat(fmt.Sprintf("l%d.hs", l), 0, hs...) // [T·N, H]
		}
	}
	logits := b.Gemm("logits", x, m.w["out.w"], m.w["out.b"], graph.GemmAttrs{})
	tflat := b.Reshape("targets.flat", b.Transpose("targets.tm", targets, 1, 0), TN)
	loss0, logProb := b.SoftmaxCrossEntropyLoss("loss.0", "log_prob", logits, tflat)
	b.Output(b.Reshape(MetricLoss, loss0, 1))
	if !train {
		for l := range o.Layers {
			b.Output(b.Identity(fmt.Sprintf("l%d.h.next", l), hNext[l]))
			b.Output(b.Identity(fmt.Sprintf("l%d.c.next", l), cNext[l]))
		}
		return m.finish(st)
	}

	// Backward.
	grads := map[string]graph.Value{}
	onehot := b.OneHot("targets.onehot", tflat, V, 0, 1)
	dlogits := b.Mul("logits.grad", b.Sub("logits.grad.n", b.Exp("prob", logProb), onehot), b.Scalar("const.1/TN", float32(1/float64(TN))))
	grads["out.w"] = b.Gemm("out.w.grad", x, dlogits, graph.Value{}, graph.GemmAttrs{TransA: true})
	grads["out.b"] = b.ReduceSum("out.b.grad", dlogits, false, 0)
	dAbove := b.Gemm("hs.grad", dlogits, m.w["out.w"], graph.Value{}, graph.GemmAttrs{TransB: true}) // [T·N, H]
	for l := o.Layers - 1; l >= 0; l-- {
		pre := fmt.Sprintf("l%d.", l)
		dxw, dhu := make([]graph.Value, T), make([]graph.Value, T)
		above := func(t int) graph.Value {
			if T == 1 {
				return dAbove
			}
			return m.rows(fmt.Sprintf("l%d.t%d.h.grad.above", l, t), dAbove, t, N)
		}
		dh, dc := above(T-1), graph.Value{}
		for t := T - 1; t >= 0; t-- {
			p := fmt.Sprintf("l%d.t%d", l, t)
			var dcPrev graph.Value
			dxw[t], dhu[t], dcPrev = m.cellBackward(p, steps[l][t], dh, dc, t > 0)
			if t > 0 { // dh_{t−1} = dhu_t·Uᵀ + the gradient from above
				dh = b.Gemm(p+".hprev.grad", dhu[t], m.w[pre+"u"], above(t-1), graph.GemmAttrs{TransB: true})
				dc = dcPrev
			}
		}
		dxwAll, dhuAll := dxw[0], dhu[0]
		hPrev := steps[l][0].hPrev
		if T > 1 {
			dxwAll = b.Concat(pre+"xw.grad", 0, dxw...)
			dhuAll = b.Concat(pre+"hu.grad", 0, dhu...)
			prevs := make([]graph.Value, T)
			for t := range T {
				prevs[t] = steps[l][t].hPrev
			}
			hPrev = b.Concat(pre+"hprev", 0, prevs...)
		}
		grads[pre+"w"] = b.Gemm(pre+"w.grad", inputs[l], dxwAll, graph.Value{}, graph.GemmAttrs{TransA: true})
		grads[pre+"u"] = b.Gemm(pre+"u.grad", hPrev, dhuAll, graph.Value{}, graph.GemmAttrs{TransA: true})
		grads[pre+"b"] = b.ReduceSum(pre+"b.grad", dhuAll, false, 0)
		dAbove = b.Gemm(pre+"in.grad", dxwAll, m.w[pre+"w"], graph.Value{}, graph.GemmAttrs{TransB: true}) // [T·N, in]
	}
	E := int64(o.Embed)
	idx := b.Expand("emb.grad.idx", b.Unsqueeze("tokens.col", flat, 1), TN, E)
	grads["emb"] = b.ScatterAdd("emb.grad", b.Expand("emb.grad.zero", m.zero, V, E), idx, dAbove)

	// Clipping and SGD.
	scale := lr
	if o.Clip > 0 {
		sq := make([]graph.Value, len(specs))
		for i, p := range specs {
			g := grads[p.Name]
			axes := make([]int64, len(p.Shape))
			for k := range axes {
				axes[k] = int64(k)
			}
			sq[i] = b.ReduceSum(p.Name+".grad.sq", b.Mul(p.Name+".grad.sq.e", g, g), false, axes...)
		}
		norm := b.Sqrt("grad.norm", b.Reshape("grad.sq", b.Sum("grad.sq.0", sq...), 1))
		q := b.Div("clip.q", b.Scalar("clip", o.Clip), b.Add("grad.norm.eps", norm, b.Scalar("clip.eps", 1e-6)))
		coef := b.Where("clip.coef", b.Greater("clip.over", q, m.one), m.one, q)
		scale = b.Mul("sgd.scale", lr, coef)
	}
	for _, p := range specs {
		b.Output(b.Sub(p.Name+".next", m.w[p.Name], b.Mul(p.Name+".step", grads[p.Name], scale)))
	}
	for l := range o.Layers {
		b.Output(b.Identity(fmt.Sprintf("l%d.h.next", l), hNext[l]))
		b.Output(b.Identity(fmt.Sprintf("l%d.c.next", l), cNext[l]))
	}
	return m.finish(st)
}

func (m *lmNet) finish(st step) (step, error) {
	model, err := m.b.Model()
	if err != nil {
		return step{}, err
	}
	st.model, st.inputs, st.outputs = model, m.b.Inputs(), m.b.Outputs()
	return st, nil
}
