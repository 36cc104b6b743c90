package controller

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// param is one weight matrix (a vector when cols == 0), stored row-major in
// a *tensor.Dense whose backing slice the plain-Go sampler reads and the
// optimizer writes in place; every cached gorgonia graph binds the same
// Dense, so the sampler and the graphs always see the same numbers.
type param struct {
	name       string
	rows, cols int // cols == 0: a vector of length rows
	t          *tensor.Dense
	w          []float64 // t's backing slice
}

func (p *param) size() int { return p.rows * max(p.cols, 1) }

// weights indexes the parameters by role. Everything is shared across the
// layers of the child: the number of layers can change between calls.
type weights struct {
	all  []*param
	goV  *param   // 1×E: input of the first step and of the step after an anchor step
	emb  []*param // per decision: K×E
	lstm [][4]*param
	// per LSTM layer, per gate (i, f, g, o): (in+H+1)×H acting on [x, h, 1]
	headW, headB []*param // per decision: H×K and 1×K
	attPrev      *param   // H×H
	attCurr      *param   // H×H
	attV         *param   // H (vector)
}

// gateNames are the LSTM gates in storage order.
var gateNames = [4]string{"i", "f", "g", "o"}

// newWeights creates the parameters in a fixed order and draws every value
// from U[-r, r] with a PCG seeded from cfg.Seed (stream 1; the sampler uses
// stream 2), so the same seed gives the same weights on every machine.
func newWeights(cfg Config, sp layout) *weights {
	w := &weights{}
	add := func(name string, rows, cols int) *param {
		n := rows * max(cols, 1)
		data := make([]float64, n)
		var t *tensor.Dense
		if cols == 0 {
			t = tensor.New(tensor.WithShape(rows), tensor.WithBacking(data))
		} else {
			t = tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
		}
		p := &param{name: name, rows: rows, cols: cols, t: t, w: data}
		w.all = append(w.all, p)
		return p
	}
	H, E := cfg.Hidden, cfg.Embedding
	w.goV = add("go", 1, E)
	for _, d := range sp.Decisions {
		w.emb = append(w.emb, add("emb."+d.Name, len(d.Tokens), E))
	}
	for l := 0; l < cfg.LSTMLayers; l++ {
		in := E
		if l > 0 {
			in = H
		}
		var g [4]*param
		for k, gn := range gateNames {
			g[k] = add(fmt.Sprintf("lstm.%d.%s", l, gn), in+H+1, H)
		}
		w.lstm = append(w.lstm, g)
	}
	for _, d := range sp.Decisions {
		w.headW = append(w.headW, add("head."+d.Name+".w", H, len(d.Tokens)))
		w.headB = append(w.headB, add("head."+d.Name+".b", 1, len(d.Tokens)))
	}
	if sp.Anchors {
		w.attPrev = add("att.prev", H, H)
		w.attCurr = add("att.curr", H, H)
		w.attV = add("att.v", H, 0)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	r := cfg.InitRange
	for _, p := range w.all {
		for i := range p.w {
			p.w[i] = (2*rng.Float64() - 1) * r
		}
	}
	return w
}
