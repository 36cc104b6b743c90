package controller

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A gemm is a set of weights that the unrolled graph multiplies with at
// many steps (the LSTM gates at every step, an embedding table at every
// step of its decision): y_t = x_t·W for each weight W of the set, with the
// same inputs x_t. Differentiated the usual way, each product would make
// its own weight gradient x_tᵀ·∂y_t, a matrix per step and weight, and then
// sum them: most of the nodes and allocations of an update. Instead the
// graph multiplies with an undifferentiated node bound to the same tensor,
// asks gorgonia for ∂loss/∂y_t (the total derivative, through every later
// step), and reads x_t and ∂y_t into stacked matrices X and ∂Y, so that
// ∂loss/∂W = Σ_t x_tᵀ·∂y_t = Xᵀ·∂Y is one matrix product per weight after
// the run (what cuDNN's LSTM does too).
type gemm struct {
	ws   []*param
	idx  []int // of each weight in weights.all
	in   int
	xs   G.Nodes     // the inputs, each rows×in
	ys   []G.Nodes   // per weight, per input: x·W
	rows int         // Σ rows of xs
	x    []float64   // X, (rows×in), written by the graph's reads
	dy   [][]float64 // per weight: ∂Y (rows×cols), written by the graph's reads
	xv   []G.Value   // views into x, one per input (read destinations)
	dyv  [][]G.Value // views into dy
}

// newGemm makes a gemm of weights with the same number of rows.
func newGemm(w *weights, ws ...*param) *gemm {
	g := &gemm{ws: ws, in: ws[0].rows, ys: make([]G.Nodes, len(ws))}
	for _, p := range ws {
		for k, q := range w.all {
			if q == p {
				g.idx = append(g.idx, k)
			}
		}
	}
	return g
}

// gemmMul returns x·W for every weight of g, with W undifferentiated.
func (b *gbuilder) gemmMul(g *gemm, x *G.Node) G.Nodes {
	if b.err != nil {
		return make(G.Nodes, len(g.ws))
	}
	g.xs = append(g.xs, x)
	g.rows += x.Shape()[0]
	out := make(G.Nodes, len(g.ws))
	for k, p := range g.ws {
		out[k] = b.mul(x, b.frozen(p))
		g.ys[k] = append(g.ys[k], out[k])
	}
	return out
}

// frozen returns a node bound to the weight's tensor that is never
// differentiated (see gemm).
func (b *gbuilder) frozen(p *param) *G.Node {
	if n, ok := b.consts[p]; ok {
		return n
	}
	n := G.NewMatrix(b.g, tensor.Float64, G.WithShape(p.rows, p.cols), G.WithName(p.name+".frozen"+b.salt), G.WithValue(p.t))
	b.consts[p] = n
	return n
}

// wrt lists the outputs whose gradients g needs.
func (g *gemm) wrt() G.Nodes {
	var ns G.Nodes
	for _, ys := range g.ys {
		ns = append(ns, ys...)
	}
	return ns
}

// read makes the graph copy each input and, given the gradient nodes of
// wrt (in its order), each output gradient into the stacked matrices. It
// returns the read nodes.
func (g *gemm) read(grads G.Nodes) (reads G.Nodes) {
	view := func(buf []float64, off, rows, cols int) G.Value {
		return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(buf[off*cols:(off+rows)*cols]))
	}
	g.x = make([]float64, g.rows*g.in)
	g.xv = make([]G.Value, len(g.xs))
	g.dy = make([][]float64, len(g.ws))
	g.dyv = make([][]G.Value, len(g.ws))
	for k, p := range g.ws {
		g.dy[k] = make([]float64, g.rows*p.cols)
		g.dyv[k] = make([]G.Value, len(g.xs))
	}
	off := 0
	for i, x := range g.xs {
		r := x.Shape()[0]
		g.xv[i] = view(g.x, off, r, g.in)
		reads = append(reads, G.Read(x, &g.xv[i]))
		for k, p := range g.ws {
			g.dyv[k][i] = view(g.dy[k], off, r, p.cols)
			reads = append(reads, G.Read(grads[k*len(g.xs)+i], &g.dyv[k][i]))
		}
		off += r
	}
	return reads
}

// accumulate adds Xᵀ·∂Y into each weight's gradient (grad indexed like
// weights.all).
func (g *gemm) accumulate(grad [][]float64) error {
	X := blas64.General{Rows: g.rows, Cols: g.in, Stride: g.in, Data: g.x}
	for k, p := range g.ws {
		dst := grad[g.idx[k]]
		if len(dst) != p.rows*p.cols {
			return fmt.Errorf("controller: gradient of %s has %d values, want %d", p.name, len(dst), p.rows*p.cols)
		}
		dY := blas64.General{Rows: g.rows, Cols: p.cols, Stride: p.cols, Data: g.dy[k]}
		D := blas64.General{Rows: p.rows, Cols: p.cols, Stride: p.cols, Data: dst}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, X, dY, 1, D)
	}
	return nil
}
