package onnxgen

import (
	"math"
	"math/rand/v2"
	"testing"
)

// evalCell is the reference meaning of a cell (cell.go) on one unit, in
// plain float64: leafPre[i] holds leaf i's two inputs (W_i·x_t, U_i·h_{t-1} +
// b_i), cPrev is c_{t-1}. Nodes are evaluated in level order; node k of
// level l > 0 combines nodes 2j and 2j+1 of level l−1 (j its index in
// level l); the inject merges c_{t-1} into node InjectAt's output; c_t is
// node CellFrom's pre-activation; h_t is the root's output (injected, if the
// inject is at the root).
func evalCell(c Cell, leafPre [][2]float64, cPrev float64) (h, cNext float64) {
	comb := func(m Comb, a, b float64) float64 {
		if m == CombMul {
			return a * b
		}
		return a + b
	}
	act := func(a Act, x float64) float64 {
		switch a {
		case ActTanh:
			return math.Tanh(x)
		case ActSigmoid:
			return 1 / (1 + math.Exp(-x))
		case ActReLU:
			return math.Max(x, 0)
		}
		return x
	}
	out := make([]float64, len(c.Nodes))
	k := 0
	prev := -1 // first node of the level below
	for n := c.Base; n >= 1; n /= 2 {
		first := k
		for j := range n {
			var a, b float64
			if prev < 0 {
				a, b = leafPre[j][0], leafPre[j][1]
			} else {
				a, b = out[prev+2*j], out[prev+2*j+1]
			}
			nd := c.Nodes[k]
			pre := comb(nd.Comb, a, b)
			out[k] = act(nd.Act, pre)
			if k == c.InjectAt {
				out[k] = act(c.Inject.Act, comb(c.Inject.Comb, out[k], cPrev))
			}
			if k == c.CellFrom {
				cNext = pre
			}
			k++
		}
		prev = first
	}
	return out[len(out)-1], cNext
}

func refSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestNamedCells: every named cell parses, is canonical and valid, and
// computes its closed form (cell_named.go) on random numbers: the LSTM
// h = o·tanh(f·c + i·g), c' = f·c + i·g, and TensorFlow's NASCell formulas.
func TestNamedCells(t *testing.T) {
	closed := map[string]func(a, b [8]float64, c float64) (h, cNext float64){
		"lstm": func(a, b [8]float64, c float64) (float64, float64) {
			i := refSigmoid(a[0] + b[0])
			g := math.Tanh(a[1] + b[1])
			f := refSigmoid(a[2] + b[2] + a[3] + b[3])
			o := refSigmoid(a[4] + b[4] + a[5] + b[5] + a[6] + b[6] + a[7] + b[7])
			cn := f*c + i*g
			return o * math.Tanh(cn), cn
		},
		// tf.contrib.rnn.NASCell.call, with m_matrix[i] = b[i] and
		// inputs_matrix[i] = a[i].
		"nascell": func(a, b [8]float64, c float64) (float64, float64) {
			relu := func(x float64) float64 { return math.Max(x, 0) }
			layer1_0 := refSigmoid(b[0] + a[0])
			layer1_1 := relu(b[1] + a[1])
			layer1_2 := refSigmoid(b[2] + a[2])
			layer1_3 := relu(b[3] * a[3])
			layer1_4 := math.Tanh(b[4] + a[4])
			layer1_5 := refSigmoid(b[5] + a[5])
			layer1_6 := math.Tanh(b[6] + a[6])
			layer1_7 := refSigmoid(b[7] + a[7])
			l2_0 := math.Tanh(layer1_0 * layer1_1)
			l2_1 := math.Tanh(layer1_2 + layer1_3)
			l2_2 := math.Tanh(layer1_4 * layer1_5)
			l2_3 := refSigmoid(layer1_6 + layer1_7)
			l2_0 = math.Tanh(l2_0 + c)
			l3_0 := l2_0 * l2_1
			newC := l3_0
			l3_1 := math.Tanh(l2_2 + l2_3)
			newM := math.Tanh(l3_0 * l3_1)
			return newM, newC
		},
	}
	names := CellNames()
	if len(names) != len(closed) {
		t.Fatalf("CellNames() = %v, want a closed form for each (have %d)", names, len(closed))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c, ok := CellByName(name)
			if !ok {
				t.Fatalf("CellByName(%q) not found", name)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, nc := range namedCells {
				if nc.name == name && c.String() != nc.cell {
					t.Errorf("String() = %q, want the canonical %q", c.String(), nc.cell)
				}
			}
			f := closed[name]
			if f == nil {
				t.Fatalf("no closed form for %q", name)
			}
			for trial := range 200 {
				var a, b [8]float64
				pre := make([][2]float64, 8)
				for i := range 8 {
					a[i], b[i] = 3*r.NormFloat64(), 3*r.NormFloat64()
					pre[i] = [2]float64{a[i], b[i]}
				}
				cPrev := 2 * r.NormFloat64()
				h, cn := evalCell(c, pre, cPrev)
				wh, wc := f(a, b, cPrev)
				if math.Abs(h-wh) > 1e-12 || math.Abs(cn-wc) > 1e-12 {
					t.Fatalf("trial %d: evalCell = h %v, c %v; closed form h %v, c %v", trial, h, cn, wh, wc)
				}
			}
		})
	}
	if _, ok := CellByName("gru"); ok {
		t.Error(`CellByName("gru") found a cell`)
	}
	// A fresh copy each time: changing one does not change the next.
	c, _ := CellByName("lstm")
	c.Nodes[0].Act = ActReLU
	if d, _ := CellByName("lstm"); d.Nodes[0].Act != ActSigmoid {
		t.Error("CellByName returned shared nodes")
	}
}

// TestEvalCellInjectRootLeaf pins the meaning at the edges the language
// allows: the inject at the root changes h_t, c_t from a leaf is its
// pre-activation, and the inject at the node c_t comes from does not reach
// c_t (c_t is taken before the activation and the inject).
func TestEvalCellInjectRootLeaf(t *testing.T) {
	pre := [][2]float64{{0.5, 0.25}, {-1, 2}}
	c, err := ParseCell("rnn: base2 | add identity mul identity | add tanh | inject mul identity at2 c0")
	if err != nil {
		t.Fatal(err)
	}
	h, cn := evalCell(c, pre, 3)
	if want := math.Tanh(0.75-2) * 3; math.Abs(h-want) > 1e-15 || cn != 0.75 {
		t.Errorf("inject at the root, c from leaf 0: h %v, c %v; want %v, 0.75", h, cn, want)
	}
	c.InjectAt, c.CellFrom = 1, 1
	h, cn = evalCell(c, pre, 3)
	if want := math.Tanh(0.75 + -2*3); math.Abs(h-want) > 1e-15 || cn != -2 {
		t.Errorf("inject at leaf 1, c from leaf 1: h %v, c %v; want %v, -2", h, cn, want)
	}
}
