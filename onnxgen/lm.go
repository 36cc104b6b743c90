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
// [Base·H]: one product each for all the leaves (the input projection of
// the whole window at once), then a Split, as TensorFlow's NASCell does.
// Leaves that all add (or all multiply) combine in one op over
// [N, Base·H]; mixed leaves compute both and pick per column (Where).
//
// Parameters, in order: emb [Vocab, Embed]; per layer l<l>.w, l<l>.u,
// l<l>.b; out.w [Hidden, Vocab], out.b [Vocab]; all drawn uniform(−s, s),
// s = InitScale, from a PCG source seeded with Seed, in that order.
//
// The training graph (inputs tokens, targets int64 [Batch, Steps], lr
// float [1], the parameters, then l<l>.h and l<l>.c [Batch, Hidden] per
// layer; outputs loss [1], every p.next, then l<l>.h.next and l<l>.c.next):
// the forward above over the window, the gradient by hand-written
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
// The recurrence has two forms (LMOptions.Form), checked alike against
// PyTorch: unrolled (the cell copied once per step, ≈ 45 nodes per step for
// the LSTM, ≈ 90 for the NASCell, forward and backward) and Scan (a forward
// Scan whose body is the cell and which stacks every value the backward
// reads, then a reversed Scan over those for BPTT: a graph of constant
// size). The weight gradients are one Gemm each over the whole window in
// both. Measured (TestLMMeasure in internal/gradcheck, NAS_LM_MEASURE_ALL=1,
// 2026-12-01, ORT 1.30, 2 intra-op threads; Steps 35, Hidden 128, Batch 32;
// the machine's 2 cores shared with other work, load average ≈ 4 during
// the run; the two forms' steps alternated, so that their ratio is fair):
//
//	cell     V      L  form      nodes  bytes    session   step     tokens/s
//	NASCell  50     1  unrolled  3141   250 kB   1.43 s     89 ms   12.6k
//	NASCell  50     1  scan        67    25 kB   0.06 s     85 ms   13.2k
//	LSTM     50     1  unrolled  1529   127 kB   0.49 s     73 ms   15.3k
//	LSTM     50     1  scan        67    11 kB   0.04 s     68 ms   16.5k
//	NASCell  10000  1  unrolled  3141   250 kB   1.22 s    267 ms    4.2k
//	NASCell  10000  1  scan        67    25 kB   0.02 s    261 ms    4.3k
//	NASCell  50     2  unrolled  6242   493 kB   3.14 s    133 ms    8.4k
//	NASCell  50     2  scan        95    47 kB   0.07 s    124 ms    9.1k
//
// Under heavier load (average 9-12) the same runs took 2-8.6 s (unrolled)
// against 0.15-0.38 s (Scan) to create a session, and the Scan form's step
// 0-17% more than the unrolled one's; ORT's graph optimisations are most of
// the unrolled graph's creation time (0.39 s instead of 1.3-1.6 s for the
// NASCell with them off, the step unchanged). So the step costs about the
// same in both forms, while a session of the unrolled graph costs 8-50
// times more to create (over a second at 35 steps for the NASCell,
// growing faster than linearly with the nodes), and every trial creates
// two (training, evaluation): LMFormAuto is the Scan form.

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
	// Form forces the recurrence's form in the training and evaluation
	// graphs (for the checks and the measurements). Zero (LMFormAuto):
	// the Scan form (see the measurements in lm.go's comment).
	Form LMForm
}

// LMForm is how the graphs express the recurrence over the window.
type LMForm int

const (
	LMFormAuto LMForm = iota // the Scan form
	LMUnrolled               // the cell copied once per step
	LMScan                   // a Scan over the steps, a reversed Scan for BPTT
	numLMForms
)

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
	if o.Form < 0 || o.Form >= numLMForms {
		return fmt.Errorf("onnxgen: LM form %d: unknown", o.Form)
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
	if err := c.Validate(); err != nil {
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
	if c.Validate() != nil || o.Validate() != nil {
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

// lmActivationFloats counts the training graph's forward values kept for
// the backward pass, per batch row (stream). Per step and layer, unrolled:
// the input and recurrent projections (2·Base·H), every node's
// pre-activation and output (2·(2·Base−1)·H), the inject's two (2·H); as a
// Scan: the input projection (Base·H) and what the forward Scan stacks
// (lmNeeds, with h and h_{t−1}). Per step, both: the embedding (E), the
// logits and log-probabilities (2·V).
func lmActivationFloats(c Cell, o LMOptions) int64 {
	h, bh := int64(o.Hidden), int64(c.Base*o.Hidden)
	perLayer := 2*bh + 2*int64(2*c.Base-1)*h + 2*h
	if o.Form != LMUnrolled {
		need := lmNeeds(c)
		root := len(c.Nodes) - 1
		perLayer = bh + 2*h // xw; h_t (the root's output) and h_{t−1}
		if need.leaves {
			perLayer += bh
		}
		if need.cPrev {
			perLayer += h
		}
		for k := range c.Nodes {
			injected := k == c.InjectAt
			if need.o[k] && (injected || k != root) {
				perLayer += h
			}
			if need.out[k] && injected && k != root {
				perLayer += h
			}
			if need.out[k] && !injected && !need.o[k] && k != root {
				perLayer += h
			}
		}
	}
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
// signature comes first in the text form), named with prefix; cell: also
// those of the cell's leaves.
func (m *lmNet) constants(prefix string, cell bool) {
	m.zero = m.b.Scalar(prefix+"const.0", 0)
	m.one = m.b.Scalar(prefix+"const.1", 1)
	mixed := false
	for _, n := range m.c.Nodes[1:m.c.Base] {
		mixed = mixed || n.Comb != m.c.Nodes[0].Comb
	}
	if mixed && cell {
		h := m.o.Hidden
		mask := make([]float32, m.c.Base*h)
		for i, n := range m.c.Nodes[:m.c.Base] {
			if n.Comb == CombMul {
				for k := range h {
					mask[i*h+k] = 1
				}
			}
		}
		f := m.b.Initializer(prefix+"mask.mul.f", []int64{int64(len(mask))}, mask)
		m.mulMask = m.b.Greater(prefix+"mask.mul", f, m.b.Scalar(prefix+"const.0.5", 0.5))
	}
}

// cellStep is one cell evaluation's values, kept for the backward pass.
type cellStep struct {
	xw, hu graph.Value   // [n, Base·H]: W·in, U·h_{t−1}+b
	pre, o []graph.Value // per node: comb(...) and act(comb(...))
	out    []graph.Value // per node: o, or the inject's output at InjectAt
	inj    graph.Value   // comb_inj(o, c_{t−1}) at InjectAt
	hPrev  graph.Value
	cPrev  graph.Value
	h, c   graph.Value
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

// lmLayer is one layer's recurrence over the window: its outputs hs
// [T·N, H] (time-major), its final states, and the backward pass: given
// the gradient of hs, the gradients of the input projection xw and of the
// recurrent one hu ([T·N, Base·H]) and the previous states h_{t−1}
// ([T·N, H]) they multiply.
type lmLayer struct {
	hs, h, c graph.Value
	backward func(dhs graph.Value) (dxw, dhu, hPrev graph.Value)
}

// layerUnrolled emits layer l's recurrence as T copies of the cell.
func (m *lmNet) layerUnrolled(l int, xwAll, h, c graph.Value, T, N int) *lmLayer {
	b := m.b
	steps := make([]*cellStep, T)
	hs := make([]graph.Value, T)
	for t := range T {
		p := fmt.Sprintf("l%d.t%d", l, t)
		xw := xwAll
		if T > 1 {
			xw = m.rows(p+".xw", xwAll, t, N)
		}
		steps[t] = m.cellForward(p, l, xw, h, c)
		h, c = steps[t].h, steps[t].c
		hs[t] = h
	}
	r := &lmLayer{hs: hs[0], h: h, c: c}
	if T > 1 {
		r.hs = b.Concat(fmt.Sprintf("l%d.hs", l), 0, hs...) // [T·N, H]
	}
	r.backward = func(dAbove graph.Value) (graph.Value, graph.Value, graph.Value) {
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
			dxw[t], dhu[t], dcPrev = m.cellBackward(p, steps[t], dh, dc, t > 0)
			if t > 0 { // dh_{t−1} = dhu_t·Uᵀ + the gradient from above
				dh = b.Gemm(p+".hprev.grad", dhu[t], m.w[pre+"u"], above(t-1), graph.GemmAttrs{TransB: true})
				dc = dcPrev
			}
		}
		if T == 1 {
			return dxw[0], dhu[0], steps[0].hPrev
		}
		prevs := make([]graph.Value, T)
		for t := range T {
			prevs[t] = steps[t].hPrev
		}
		return b.Concat(pre+"xw.grad", 0, dxw...), b.Concat(pre+"hu.grad", 0, dhu...), b.Concat(pre+"hprev", 0, prevs...)
	}
	return r
}

// layerScan emits layer l's recurrence as a Scan over the window whose body
// is the cell, keeping every value the backward pass reads (train) or only
// the outputs h as stacked outputs, and the backward pass as a reversed
// Scan over those.
func (m *lmNet) layerScan(l int, xwAll, h0, c0 graph.Value, T, N int, train bool) *lmLayer {
	b, o := m.b, m.o
	H, BH := int64(o.Hidden), int64(m.c.Base*o.Hidden)
	n, t := int64(N), int64(T)
	pre := fmt.Sprintf("l%d.", l)
	body := func(name string) *lmNet {
		bm := &lmNet{b: graph.NewBuilder(name), c: m.c, o: o, kids: m.kids, w: map[string]graph.Value{}}
		return bm
	}
	outer := func(bm *lmNet, name string) {
		for _, k := range []string{"u", "b"} {
			bm.w[pre+k] = bm.b.Outer(m.w[pre+k])
		}
		bm.constants(name+".", true)
	}

	// Forward: states h, c; scan input xw; outputs h', c', then the saved values.
	fp := pre + "fwd"
	fw := body(fp)
	fh := fw.b.Input(fp+".h", graph.Float, n, H)
	fc := fw.b.Input(fp+".c", graph.Float, n, H)
	fx := fw.b.Input(fp+".xw", graph.Float, n, BH)
	outer(fw, fp)
	s := fw.cellForward(fp, l, fx, fh, fc)
	fw.b.Output(fw.b.Identity(fp+".h.next", s.h))
	fw.b.Output(fw.b.Identity(fp+".c.next", s.c))
	// The saved values, each once: those the backward reads (lmNeeds),
	// the output h (the layer's) and h_{t−1} (for U's gradient).
	var saved []graph.Value
	index := map[string]int{}
	keep := func(v graph.Value) {
		if _, ok := index[v.Name]; !ok {
			index[v.Name] = len(saved)
			saved = append(saved, v)
		}
	}
	need := lmNeeds(m.c)
	if train {
		if need.leaves {
			keep(s.hu)
		}
		for k := range s.o {
			if need.o[k] {
				keep(s.o[k])
			}
			if need.out[k] {
				keep(s.out[k])
			}
		}
		if need.cPrev {
			keep(fc)
		}
	}
	keep(s.h)
	if train {
		keep(fh)
	}
	outs := []string{pre + "h.last", pre + "c.last"}
	for i, v := range saved {
		fw.b.Output(fw.b.Identity(fmt.Sprintf("%s.saved%d", fp, i), v))
		outs = append(outs, fmt.Sprintf("%ssaved%d", pre, i))
	}
	xw3 := b.Reshape(pre+"xw.steps", xwAll, t, n, BH)
	res := b.Scan(outs, fw.b, []graph.Value{h0, c0}, []graph.Value{xw3}, false)
	stacked := res[2:]
	r := &lmLayer{h: res[0], c: res[1]}
	r.hs = b.Reshape(pre+"hs", stacked[index[s.h.Name]], t*n, H)

	r.backward = func(dAbove graph.Value) (graph.Value, graph.Value, graph.Value) {
		bp := pre + "bwd"
		bw := body(bp)
		dhRec := bw.b.Input(bp+".dh", graph.Float, n, H)
		dc := bw.b.Input(bp+".dc", graph.Float, n, H)
		above := bw.b.Input(bp+".above", graph.Float, n, H)
		xw := bw.b.Input(bp+".xw", graph.Float, n, BH)
		in := make([]graph.Value, len(saved))
		for i, v := range saved {
			in[i] = bw.b.Input(fmt.Sprintf("%s.saved%d", bp, i), graph.Float, v.Shape...)
		}
		outer(bw, bp)
		at := func(v graph.Value, needed bool) graph.Value {
			if !needed {
				return graph.Value{} // never read: an op given it fails the build
			}
			return in[index[v.Name]]
		}
		bs := &cellStep{xw: xw, hu: at(s.hu, need.leaves), cPrev: at(fc, need.cPrev),
			o: make([]graph.Value, len(s.o)), out: make([]graph.Value, len(s.out))}
		for k := range s.o {
			bs.o[k], bs.out[k] = at(s.o[k], need.o[k]), at(s.out[k], need.out[k])
		}
		dh := bw.b.Add(bp+".h.grad", above, dhRec)
		dxw, dhu, dcPrev := bw.cellBackward(bp, bs, dh, dc, true)
		bw.b.Output(bw.b.Gemm(bp+".dh.next", dhu, bw.w[pre+"u"], graph.Value{}, graph.GemmAttrs{TransB: true}))
		bw.b.Output(bw.b.Identity(bp+".dc.next", dcPrev))
		bw.b.Output(bw.b.Identity(bp+".xw.grad.out", dxw))
		bw.b.Output(bw.b.Identity(bp+".hu.grad.out", dhu))
		zero := b.Expand(pre+"bwd.zero", m.zero, n, H)
		scans := append([]graph.Value{b.Reshape(pre+"hs.grad.steps", dAbove, t, n, H), xw3}, stacked...)
		g := b.Scan([]string{pre + "dh.first", pre + "dc.first", pre + "xw.grad.steps", pre + "hu.grad.steps"}, bw.b,
			[]graph.Value{zero, zero}, scans, true)
		return b.Reshape(pre+"xw.grad", g[2], t*n, BH), b.Reshape(pre+"hu.grad", g[3], t*n, BH),
			b.Reshape(pre+"hprev", stacked[index[fh.Name]], t*n, H)
	}
	return r
}

// lmNeed says which of a cell evaluation's values its backward pass
// (cellBackward) reads: o[k] (node k's activation output) where the
// activation is not the identity, where k's parent multiplies, or where
// the inject multiplies at k; out[k] (the inject's output) where the
// inject's activation is not the identity; xw and hu where a leaf
// multiplies; c_{t−1} where the inject multiplies.
type lmNeed struct {
	o, out        []bool
	leaves, cPrev bool
}

func lmNeeds(c Cell) lmNeed {
	n := len(c.Nodes)
	need := lmNeed{o: make([]bool, n), out: make([]bool, n)}
	for k, nd := range c.Nodes {
		need.o[k] = nd.Act != ActIdentity
		if k < c.Base && nd.Comb == CombMul {
			need.leaves = true
		}
	}
	for k, kid := range cellChildren(c.Base) {
		if kid[0] >= 0 && c.Nodes[k].Comb == CombMul {
			for _, j := range kid {
				need.out[j] = true // the child's output as its parent reads it
			}
		}
	}
	i := c.InjectAt
	if c.Inject.Act != ActIdentity {
		need.out[i] = true
	}
	if c.Inject.Comb == CombMul {
		need.o[i], need.cPrev = true, true
	}
	return need
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
	scan := o.Form != LMUnrolled
	m.constants("", !scan)
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
	recs := make([]*lmLayer, o.Layers)
	for l := range o.Layers {
		inputs[l] = x
		xwAll := b.MatMul(fmt.Sprintf("l%d.xw", l), x, m.w[fmt.Sprintf("l%d.w", l)]) // [T·N, Base·H]
		if scan {
			recs[l] = m.layerScan(l, xwAll, hIn[l], cIn[l], T, N, train)
		} else {
			recs[l] = m.layerUnrolled(l, xwAll, hIn[l], cIn[l], T, N)
		}
		x = recs[l].hs
	}
	logits := b.Gemm("logits", x, m.w["out.w"], m.w["out.b"], graph.GemmAttrs{})
	tflat := b.Reshape("targets.flat", b.Transpose("targets.tm", targets, 1, 0), TN)
	loss0, logProb := b.SoftmaxCrossEntropyLoss("loss.0", "log_prob", logits, tflat)
	b.Output(b.Reshape(MetricLoss, loss0, 1))
	if !train {
		for l := range o.Layers {
			b.Output(b.Identity(fmt.Sprintf("l%d.h.next", l), recs[l].h))
			b.Output(b.Identity(fmt.Sprintf("l%d.c.next", l), recs[l].c))
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
		dxwAll, dhuAll, hPrev := recs[l].backward(dAbove)
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
		b.Output(b.Identity(fmt.Sprintf("l%d.h.next", l), recs[l].h))
		b.Output(b.Identity(fmt.Sprintf("l%d.c.next", l), recs[l].c))
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
