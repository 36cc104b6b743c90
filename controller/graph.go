package controller

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graph is the static, unrolled, batched, teacher-forced training graph for
// one shape: m episodes of the same depth. It is built once per shape and
// cached; an update only writes its input tensors in place and runs it.
type graph struct {
	m, layers int
	g         *G.ExprGraph
	vm        G.VM

	// inputs, written in place before each run
	stepOH []*tensor.Dense // per softmax decision, in choice order: the m×K one-hot the next step embeds (nil for the last)
	oh     []*tensor.Dense // per decision kind: (layers·m)×K one-hots, row i·m+k for layer i of episode k
	a, na  *tensor.Dense   // (pairs·m): anchor choice a and 1−a, row p·m+k for pair p of episode k
	adv    *tensor.Dense   // (m): (R_k − b)/M, M the whole batch's size
	entw   *tensor.Dense   // (m): β/M

	// outputs, read after each run
	used     []int     // indices into weights.all of the params in the graph
	gradVals []G.Value // d loss / d param, parallel to used
	gemms    []*gemm   // the weights whose gradients are one product after the run
	lossVal  G.Value   // the loss of this group
	lpVal    G.Value   // (m): Σ_t log p(a_t) per episode
	entVal   G.Value   // (m): Σ_t entropy per episode; nil without entropy bonus
	entropy  bool
}

// gbuilder keeps the first error so each op stays one line (sticky error).
type gbuilder struct {
	g      *G.ExprGraph
	err    error
	nodes  map[*param]*G.Node
	consts map[*param]*G.Node // see frozen
	salt   string             // appended to every leaf's name (see compile)
}

func (b *gbuilder) op(f func() (*G.Node, error)) *G.Node {
	if b.err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		b.err = err
	}
	return n
}

func (b *gbuilder) mul(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Mul(x, y) })
}
func (b *gbuilder) add(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Add(x, y) })
}
func (b *gbuilder) sub(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Sub(x, y) })
}
func (b *gbuilder) had(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.HadamardProd(x, y) })
}
func (b *gbuilder) neg(x *G.Node) *G.Node { return b.op(func() (*G.Node, error) { return G.Neg(x) }) }
func (b *gbuilder) sig(x *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Sigmoid(x) })
}
func (b *gbuilder) tanh(x *G.Node) *G.Node { return b.op(func() (*G.Node, error) { return G.Tanh(x) }) }
func (b *gbuilder) exp(x *G.Node) *G.Node  { return b.op(func() (*G.Node, error) { return G.Exp(x) }) }
func (b *gbuilder) splus(x *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Softplus(x) })
}
func (b *gbuilder) sum(x *G.Node, along ...int) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Sum(x, along...) })
}
func (b *gbuilder) concat(xs ...*G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Concat(1, xs...) })
}

// input makes an input node bound to a fresh zeroed tensor of the shape.
func (b *gbuilder) input(name string, shape ...int) (*G.Node, *tensor.Dense) {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float64))
	name += b.salt
	if len(shape) == 1 {
		return G.NewVector(b.g, tensor.Float64, G.WithShape(shape...), G.WithName(name), G.WithValue(t)), t
	}
	return G.NewMatrix(b.g, tensor.Float64, G.WithShape(shape...), G.WithName(name), G.WithValue(t)), t
}

// param returns the node of a weight, creating it on first use; only
// weights that were asked for are differentiated, so each of them reaches
// the loss.
func (b *gbuilder) param(p *param) *G.Node {
	if n, ok := b.nodes[p]; ok {
		return n
	}
	var n *G.Node
	if p.cols == 0 {
		n = G.NewVector(b.g, tensor.Float64, G.WithShape(p.rows), G.WithName(p.name+b.salt), G.WithValue(p.t))
	} else {
		n = G.NewMatrix(b.g, tensor.Float64, G.WithShape(p.rows, p.cols), G.WithName(p.name+b.salt), G.WithValue(p.t))
	}
	b.nodes[p] = n
	return n
}

// buildGraph unrolls the policy for m episodes of the given depth, exactly
// as rollout does in plain Go, with the chosen options fed in as inputs.
//
// Only the recurrence is unrolled step by step. Everything that reads a
// hidden state without feeding the next step is batched over the steps, so
// the graph has few nodes (each costs a few µs to run whatever its size):
// the top hidden states of all the steps of one decision kind are stacked,
// (layers·m)×H, and go through one head product, one log-softmax and one
// entropy; the anchor logits of every (j, i) pair of every layer go through
// one tanh, one product with v and one log-sigmoid.
//
// gorgonia's compiler merges nodes by a 32-bit hash alone (see compile);
// when two nodes of a graph share one, the graph is built again with its
// leaves renamed, which changes every hash and nothing else.
func (c *Controller) buildGraph(m, layers int) (*graph, error) {
	const attempts = 8
	for k := 0; k < attempts; k++ {
		salt := ""
		if k > 0 {
			salt = fmt.Sprintf("~%d", k)
		}
		gr, err := c.buildGraphSalted(m, layers, salt)
		if !errors.Is(err, errHashCollision) {
			return gr, err
		}
	}
	return nil, fmt.Errorf("controller: build graph (m=%d, layers=%d): %w in %d builds", m, layers, errHashCollision, attempts)
}

func (c *Controller) buildGraphSalted(m, layers int, salt string) (gr *graph, err error) {
	defer recoverTo(&err)
	w, sp, H := c.w, c.sp, c.cfg.Hidden
	gr = &graph{m: m, layers: layers, g: G.NewGraph(), entropy: c.cfg.EntropyWeight > 0}
	b := &gbuilder{g: gr.g, nodes: map[*param]*G.Node{}, consts: map[*param]*G.Node{}, salt: salt}
	fill := func(t *tensor.Dense) {
		for i := range t.Data().([]float64) {
			t.Data().([]float64)[i] = 1
		}
	}

	ones, onesT := b.input("ones", m, 1)
	fill(onesT)
	zero, _ := b.input("zero", m, H)
	hs := make([]*G.Node, c.cfg.LSTMLayers)
	cs := make([]*G.Node, c.cfg.LSTMLayers)
	for l := range hs {
		hs[l], cs[l] = zero, zero
	}

	// The weights used at every step: gradients by gemm.
	lstmG := make([]*gemm, len(w.lstm))
	for l, gates := range w.lstm {
		lstmG[l] = newGemm(w, gates[:]...)
	}
	embG := make([]*gemm, len(w.emb))
	for d, p := range w.emb {
		embG[d] = newGemm(w, p)
	}
	var prevG, currG *gemm
	if sp.Anchors {
		prevG, currG = newGemm(w, w.attPrev), newGemm(w, w.attCurr)
	}
	gemms := append(append(lstmG, embG...), prevG, currG)

	// The input of the next LSTM step is made lazily, so that the last
	// token's one-hot, whose embedding feeds nothing, never enters the graph.
	var goIn *G.Node
	pending, pendingD := -1, 0 // the step (index into gr.stepOH) and its decision kind
	nextInput := func() *G.Node {
		if pending >= 0 {
			oh, ohT := b.input(fmt.Sprintf("step%d.onehot", pending), m, len(sp.Decisions[pendingD].Tokens))
			gr.stepOH[pending] = ohT
			x := b.gemmMul(embG[pendingD], oh)[0]
			pending = -1
			return x
		}
		if goIn == nil {
			goIn = b.mul(ones, b.param(w.goV))
		}
		return goIn
	}
	lstm := func() *G.Node {
		x := nextInput()
		for l := range w.lstm {
			pre := b.gemmMul(lstmG[l], b.concat(x, hs[l], ones))
			ig, fg, gg, og := b.sig(pre[0]), b.sig(pre[1]), b.tanh(pre[2]), b.sig(pre[3])
			cs[l] = b.add(b.had(fg, cs[l]), b.had(ig, gg))
			hs[l] = b.had(og, b.tanh(cs[l]))
			x = hs[l]
		}
		return x
	}
	// stack concatenates along the rows; one node is its own stack.
	stack := func(xs G.Nodes) *G.Node {
		if len(xs) == 1 {
			return xs[0]
		}
		return b.op(func() (*G.Node, error) { return G.Concat(0, xs...) })
	}

	// The recurrence: the top hidden state of every softmax step, per
	// decision kind, and, with anchors, the projections of the anchor
	// steps' hidden states in pair order (pair (j, i), j < i, ordered by i
	// then j).
	tops := make([]G.Nodes, len(sp.Decisions))
	var pairPrev, pairCurr G.Nodes
	prev := make([]*G.Node, layers)
	for i := 0; i < layers; i++ {
		for d := range sp.Decisions {
			tops[d] = append(tops[d], lstm())
			gr.stepOH = append(gr.stepOH, nil)
			pending, pendingD = len(gr.stepOH)-1, d
		}
		if !sp.Anchors || layers == 1 {
			continue
		}
		top := lstm()
		pending = -1 // after an anchor step the input is go
		if i < layers-1 {
			prev[i] = b.gemmMul(prevG, top)[0]
		}
		if i == 0 {
			continue
		}
		curr := b.gemmMul(currG, top)[0]
		for j := 0; j < i; j++ {
			pairPrev = append(pairPrev, prev[j])
			pairCurr = append(pairCurr, curr)
		}
	}

	// Per-step terms (vectors with episode k at every index ≡ k mod m) are
	// summed per episode at the end by one constant 0/1 matrix.
	var lpParts, entParts G.Nodes
	onesL, onesLT := b.input("ones.layers", layers*m, 1)
	fill(onesLT)
	for d, dec := range sp.Decisions {
		logits := b.add(b.mul(stack(tops[d]), b.param(w.headW[d])), b.mul(onesL, b.param(w.headB[d])))
		oh, ohT := b.input(dec.Name+".onehot", layers*m, len(dec.Tokens))
		gr.oh = append(gr.oh, ohT)
		ls := b.op(func() (*G.Node, error) { return G.LogSoftMax(logits, 1) })
		lpParts = append(lpParts, b.sum(b.had(oh, ls), 1))
		if gr.entropy {
			entParts = append(entParts, b.neg(b.sum(b.had(b.exp(ls), ls), 1)))
		}
	}
	if len(pairPrev) > 0 {
		// Every pair's logit vᵀ tanh(W_prev·h_j + W_curr·h_i) at once, from
		// the stacked projections (no Reshape anywhere: gorgonia's reshape
		// shares memory with its input, which the tape machine may reuse).
		z := b.mul(b.tanh(b.add(stack(pairPrev), stack(pairCurr))), b.param(w.attV))
		n := len(pairPrev) * m
		a, aT := b.input("anchors.a", n)
		na, naT := b.input("anchors.na", n)
		gr.a, gr.na = aT, naT
		spNeg, spPos := b.splus(b.neg(z)), b.splus(z)
		lpParts = append(lpParts, b.neg(b.add(b.had(a, spNeg), b.had(na, spPos))))
		if gr.entropy {
			entParts = append(entParts, b.add(b.had(b.sig(z), spNeg), b.had(b.sig(b.neg(z)), spPos)))
		}
	}
	perEpisode := func(name string, parts G.Nodes) *G.Node {
		v := parts[0]
		if len(parts) > 1 {
			v = b.op(func() (*G.Node, error) { return G.Concat(0, parts...) })
		}
		n := m * c.sp.NumChoices(layers)
		sel, selT := b.input(name+".sel", m, n)
		for k := 0; k < m; k++ {
			for q := k; q < n; q += m {
				selT.Data().([]float64)[k*n+q] = 1
			}
		}
		return b.mul(sel, v)
	}
	lpTot := perEpisode("logp", lpParts)
	var entTot *G.Node
	if gr.entropy {
		entTot = perEpisode("entropy", entParts)
	}
	adv, advT := b.input("adv", m)
	gr.adv = advT
	cost := b.neg(b.sum(b.had(adv, lpTot)))
	if gr.entropy {
		entw, entwT := b.input("entw", m)
		gr.entw = entwT
		cost = b.sub(cost, b.sum(b.had(entw, entTot)))
	}
	if b.err != nil {
		return nil, fmt.Errorf("controller: build graph (m=%d, layers=%d): %w", m, layers, b.err)
	}
	var wrt G.Nodes
	for k, p := range w.all {
		if n, ok := b.nodes[p]; ok {
			gr.used = append(gr.used, k)
			wrt = append(wrt, n)
		}
	}
	nParams := len(wrt)
	for _, g := range gemms {
		if g != nil && len(g.xs) > 0 {
			gr.gemms = append(gr.gemms, g)
			wrt = append(wrt, g.wrt()...)
		}
	}
	// G.Grad only differentiates with respect to inputs; the gemm outputs
	// are not, so call what it calls.
	one := gr.g.AddNode(G.NewConstant(1.0))
	grads, err := G.Backpropagate(G.Nodes{cost}, G.Nodes{one}, wrt)
	if err != nil {
		return nil, fmt.Errorf("controller: build graph (m=%d, layers=%d): gradient: %w", m, layers, err)
	}
	var reads G.Nodes
	gr.gradVals = make([]G.Value, nParams)
	for k, gn := range grads[:nParams] {
		reads = append(reads, G.Read(gn, &gr.gradVals[k]))
	}
	rest := grads[nParams:]
	for _, g := range gr.gemms {
		n := len(g.wrt())
		reads = append(reads, g.read(rest[:n])...)
		rest = rest[n:]
	}
	reads = append(reads, G.Read(cost, &gr.lossVal), G.Read(lpTot, &gr.lpVal))
	if gr.entropy {
		reads = append(reads, G.Read(entTot, &gr.entVal))
	}
	// Backpropagation makes the gradient of every operand of an op, wanted
	// or not (the frozen weights of a gemm); the machine runs only what the
	// reads need.
	if gr.vm, err = compile(gr.g.ExactSubgraphRoots(reads...)); err != nil {
		return nil, err
	}
	return gr, nil
}

// errHashCollision: two nodes of a graph have one hash.
var errHashCollision = errors.New("two graph nodes share a hash")

// compile makes the tape machine of g, or fails with errHashCollision.
//
// gorgonia's compiler numbers values by their 32-bit Hashcode alone
// (gorgonia v0.9.18 analysis.go, dataflow.vn: no equality check), so of
// two distinct nodes with one hash the later is replaced by the earlier:
// it reads the other's register, silently when the sizes agree. With n
// nodes such a pair turns up in about n²/2³³ of the graphs (0.13% at
// 3,300 nodes, 1.6% at 11,900); a Read node hashes the address it writes
// to, so which graphs is a matter of the heap. (Graph construction itself is safe: AddNode compares the
// nodes whose hashes collide.)
func compile(g *G.ExprGraph) (G.VM, error) {
	if a, b := hashTwins(g.AllNodes()); a != nil {
		return nil, fmt.Errorf("%w (%v and %v, %#x)", errHashCollision, a, b, a.Hashcode())
	}
	return G.NewTapeMachine(g), nil
}

// hashTwins returns two distinct nodes with one Hashcode, if any. Every
// node of a graph went through AddNode, which returns the existing node
// for an equal one, so distinct nodes are never the same value.
func hashTwins(ns G.Nodes) (a, b *G.Node) {
	seen := make(map[uint32]*G.Node, len(ns))
	for _, n := range ns {
		h := n.Hashcode()
		if m, ok := seen[h]; ok && m != n {
			return m, n
		}
		seen[h] = n
	}
	return nil, nil
}

// run writes the group's choices and weights into the inputs, runs the
// graph forward and backward, and adds the gradients into grad.
func (gr *graph) run(c *Controller, eps []*Episode, adv, entw []float64, grad [][]float64) (loss float64, lp, ent []float64, err error) {
	defer recoverTo(&err)
	sp, m := c.sp, len(eps)
	for _, oh := range gr.stepOH {
		if oh != nil {
			clear(oh.Data().([]float64))
		}
	}
	for _, oh := range gr.oh {
		clear(oh.Data().([]float64))
	}
	for k, e := range eps {
		t, st, p := 0, 0, 0
		for i := 0; i < gr.layers; i++ {
			for d := range sp.Decisions {
				K := len(sp.Decisions[d].Tokens)
				a := e.Choices[t]
				gr.oh[d].Data().([]float64)[(i*m+k)*K+a] = 1
				if oh := gr.stepOH[st]; oh != nil {
					oh.Data().([]float64)[k*K+a] = 1
				}
				t++
				st++
			}
			if !sp.Anchors || i == 0 {
				continue
			}
			for j := 0; j < i; j++ {
				a := float64(e.Choices[t])
				gr.a.Data().([]float64)[p*m+k] = a
				gr.na.Data().([]float64)[p*m+k] = 1 - a
				t++
				p++
			}
		}
	}
	copy(gr.adv.Data().([]float64), adv)
	if gr.entw != nil {
		copy(gr.entw.Data().([]float64), entw)
	}
	defer gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return 0, nil, nil, fmt.Errorf("controller: run graph (m=%d, layers=%d): %w", gr.m, gr.layers, err)
	}
	for k, pi := range gr.used {
		g := gr.gradVals[k].Data().([]float64)
		dst := grad[pi]
		if len(g) != len(dst) {
			return 0, nil, nil, fmt.Errorf("controller: run graph: gradient of %s has %d values, want %d", c.w.all[pi].name, len(g), len(dst))
		}
		for i, v := range g {
			dst[i] += v
		}
	}
	for _, g := range gr.gemms {
		if err := g.accumulate(grad); err != nil {
			return 0, nil, nil, err
		}
	}
	loss = gr.lossVal.Data().(float64)
	lp = append([]float64(nil), gr.lpVal.Data().([]float64)...)
	if gr.entVal != nil {
		ent = append([]float64(nil), gr.entVal.Data().([]float64)...)
	}
	return loss, lp, ent, nil
}
