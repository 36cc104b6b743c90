package controller

import (
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
	steps []gstep       // one per choice, in choice order
	adv   *tensor.Dense // (m): (R_k − b)/M, M the whole batch's size
	entw  *tensor.Dense // (m): β/M

	// outputs, read after each run
	used     []int     // indices into weights.all of the params in the graph
	gradVals []G.Value // d loss / d param, parallel to used
	lossVal  G.Value   // the loss of this group
	lpVal    G.Value   // (m): Σ_t log p(a_t) per episode
	entVal   G.Value   // (m): Σ_t entropy per episode; nil without entropy bonus
	entropy  bool
}

// gstep is the input of one softmax decision, a one-hot (m×K), or of the
// i anchor decisions of layer i, a and 1−a (each (m·i), pair j of episode k
// at j·m+k).
type gstep struct {
	oh    *tensor.Dense
	a, na *tensor.Dense
}

// gbuilder keeps the first error so each op stays one line (sticky error).
type gbuilder struct {
	g     *G.ExprGraph
	err   error
	nodes map[*param]*G.Node
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
		n = G.NewVector(b.g, tensor.Float64, G.WithShape(p.rows), G.WithName(p.name), G.WithValue(p.t))
	} else {
		n = G.NewMatrix(b.g, tensor.Float64, G.WithShape(p.rows, p.cols), G.WithName(p.name), G.WithValue(p.t))
	}
	b.nodes[p] = n
	return n
}

// buildGraph unrolls the policy for m episodes of the given depth, exactly
// as rollout does in plain Go, with the chosen options fed in as inputs.
func (c *Controller) buildGraph(m, layers int) (gr *graph, err error) {
	defer recoverTo(&err)
	w, sp, H := c.w, c.sp, c.cfg.Hidden
	gr = &graph{m: m, layers: layers, g: G.NewGraph(), entropy: c.cfg.EntropyWeight > 0}
	b := &gbuilder{g: gr.g, nodes: map[*param]*G.Node{}}

	ones, onesT := b.input("ones", m, 1)
	for i := range onesT.Data().([]float64) {
		onesT.Data().([]float64)[i] = 1
	}
	zero, _ := b.input("zero", m, H)
	hs := make([]*G.Node, c.cfg.LSTMLayers)
	cs := make([]*G.Node, c.cfg.LSTMLayers)
	for l := range hs {
		hs[l], cs[l] = zero, zero
	}

	// The input of the next LSTM step is made lazily, so that the last
	// token's embedding, which feeds nothing, never enters the graph.
	var goIn *G.Node
	pendingOH, pendingEmb := (*G.Node)(nil), (*param)(nil)
	nextInput := func() *G.Node {
		if pendingOH != nil {
			x := b.mul(pendingOH, b.param(pendingEmb))
			pendingOH, pendingEmb = nil, nil
			return x
		}
		if goIn == nil {
			goIn = b.mul(ones, b.param(w.goV))
		}
		return goIn
	}
	lstm := func() {
		x := nextInput()
		for l, gates := range w.lstm {
			z := b.concat(x, hs[l], ones)
			ig := b.sig(b.mul(z, b.param(gates[0])))
			fg := b.sig(b.mul(z, b.param(gates[1])))
			gg := b.tanh(b.mul(z, b.param(gates[2])))
			og := b.sig(b.mul(z, b.param(gates[3])))
			cs[l] = b.add(b.had(fg, cs[l]), b.had(ig, gg))
			hs[l] = b.had(og, b.tanh(cs[l]))
			x = hs[l]
		}
	}

	// Per-step terms (vectors of m, or m·i for the anchors of layer i,
	// episode k at offset k within each block of m) are collected and
	// summed per episode at the end by one constant 0/1 matrix.
	var lpParts, entParts G.Nodes
	prev := make([]*G.Node, layers)
	for i := 0; i < layers; i++ {
		for d, dec := range sp.Decisions {
			K := len(dec.Tokens)
			lstm()
			top := hs[len(hs)-1]
			logits := b.add(b.mul(top, b.param(w.headW[d])), b.mul(ones, b.param(w.headB[d])))
			oh, ohT := b.input(fmt.Sprintf("l%d.%s.onehot", i, dec.Name), m, K)
			gr.steps = append(gr.steps, gstep{oh: ohT})
			ls := b.op(func() (*G.Node, error) { return G.LogSoftMax(logits, 1) })
			lpParts = append(lpParts, b.sum(b.had(oh, ls), 1))
			if gr.entropy {
				entParts = append(entParts, b.neg(b.sum(b.had(b.exp(ls), ls), 1)))
			}
			pendingOH, pendingEmb = oh, w.emb[d]
		}
		if !sp.Anchors || layers == 1 {
			continue
		}
		lstm()
		pendingOH, pendingEmb = nil, nil // after an anchor step the input is go
		top := hs[len(hs)-1]
		if i < layers-1 {
			prev[i] = b.mul(top, b.param(w.attPrev))
		}
		if i == 0 {
			continue
		}
		// The i anchor logits of layer i side by side (pair j of episode
		// k at j·m+k), the softplus terms computed on the whole vector.
		// (No Reshape: gorgonia's reshape shares memory with its input,
		// which the tape machine may then reuse.)
		// All i pairs in one (m·i)×H block: the kept projections stacked
		// (row j·m+k is layer j of episode k) plus i copies of curr, so
		// one tanh and one product give every logit.
		curr := b.mul(top, b.param(w.attCurr))
		pre, cur := prev[0], curr
		if i > 1 {
			reps := make(G.Nodes, i)
			for j := range reps {
				reps[j] = curr
			}
			pre = b.op(func() (*G.Node, error) { return G.Concat(0, prev[:i]...) })
			cur = b.op(func() (*G.Node, error) { return G.Concat(0, reps...) })
		}
		z := b.mul(b.tanh(b.add(pre, cur)), b.param(w.attV))
		a, aT := b.input(fmt.Sprintf("l%d.anchors.a", i), m*i)
		na, naT := b.input(fmt.Sprintf("l%d.anchors.na", i), m*i)
		gr.steps = append(gr.steps, gstep{a: aT, na: naT})
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
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		return nil, fmt.Errorf("controller: build graph (m=%d, layers=%d): gradient: %w", m, layers, err)
	}
	gr.gradVals = make([]G.Value, len(grads))
	for k, gn := range grads {
		G.Read(gn, &gr.gradVals[k])
	}
	G.Read(cost, &gr.lossVal)
	G.Read(lpTot, &gr.lpVal)
	if gr.entropy {
		G.Read(entTot, &gr.entVal)
	}
	gr.vm = G.NewTapeMachine(gr.g)
	return gr, nil
}

// run writes the group's choices and weights into the inputs, runs the
// graph forward and backward, and adds the gradients into grad.
func (gr *graph) run(c *Controller, eps []*Episode, adv, entw []float64, grad [][]float64) (loss float64, lp, ent []float64, err error) {
	defer recoverTo(&err)
	sp := c.sp
	for _, s := range gr.steps {
		if s.oh != nil {
			clear(s.oh.Data().([]float64))
		}
	}
	for k, e := range eps {
		t, st := 0, 0
		for i := 0; i < gr.layers; i++ {
			for d := range sp.Decisions {
				K := len(sp.Decisions[d].Tokens)
				gr.steps[st].oh.Data().([]float64)[k*K+e.Choices[t]] = 1
				t++
				st++
			}
			if !sp.Anchors || i == 0 {
				continue
			}
			s := gr.steps[st]
			st++
			for j := 0; j < i; j++ {
				a := float64(e.Choices[t])
				s.a.Data().([]float64)[j*len(eps)+k] = a
				s.na.Data().([]float64)[j*len(eps)+k] = 1 - a
				t++
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
	loss = gr.lossVal.Data().(float64)
	lp = append([]float64(nil), gr.lpVal.Data().([]float64)...)
	if gr.entVal != nil {
		ent = append([]float64(nil), gr.entVal.Data().([]float64)...)
	}
	return loss, lp, ent, nil
}
