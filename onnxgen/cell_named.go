package onnxgen

// The named cells (CellByName), as canonical strings. Leaf i's two inputs
// are a_i = W_i·x_t and b_i = U_i·h_{t-1} + bias_i (cell.go); σ is the
// sigmoid, ⊙ the elementwise product.
//
// nascell: the cell Zoph & Le found, as TensorFlow shipped it
// (tf.contrib.rnn.NASCell, later tfa.rnn.NASCell; checked against the call
// method of tensorflow_addons/rnn/nas_cell.py, where m_matrix splits are b_i,
// its optional bias on the h_{t-1} side as here, and inputs_matrix splits
// are a_i):
//
//	leaves   n0 = σ(a0+b0)  n1 = relu(a1+b1)  n2 = σ(a2+b2)  n3 = relu(a3⊙b3)
//	         n4 = tanh(a4+b4)  n5 = σ(a5+b5)  n6 = tanh(a6+b6)  n7 = σ(a7+b7)
//	level 1  n8 = tanh(n0⊙n1)  n9 = tanh(n2+n3)  n10 = tanh(n4⊙n5)  n11 = σ(n6+n7)
//	inject   n8 ← tanh(n8 + c_{t-1})                     ("inject add tanh at8")
//	level 2  n12 = n8⊙n9 (identity)  n13 = tanh(n10+n11)
//	c_t      = n12's pre-activation n8⊙n9                ("c12")
//	root     h_t = n14 = tanh(n12⊙n13)
//
// which are TF's layer1_0 … layer1_7, l2_0 … l2_3 (l2_0 = tanh(l2_0 +
// c_prev)), l3_0 = new_c = l2_0·l2_1, l3_1 = tanh(l2_2 + l2_3) and new_m =
// tanh(l3_0·l3_1).
//
// lstm: an exact LSTM (gates i, f, o, candidate g; every gate an affine
// function of x_t and h_{t-1} through its leaves):
//
//	leaves   n0 = σ(a0+b0) = i      n1 = tanh(a1+b1) = g
//	         n2 … n7 = a_k+b_k      (identity: affine)
//	level 1  n8 = n0⊙n1 = i⊙g (identity)
//	         n9 = σ(n2+n3) = f      (the sum of two affine leaves is affine)
//	         n10 = n4+n5, n11 = n6+n7 (identity)
//	inject   n9 ← n9⊙c_{t-1} = f⊙c_{t-1}                 ("inject mul identity at9")
//	level 2  n12 = tanh(n8+n9): its pre-activation is i⊙g + f⊙c_{t-1} = c_t ("c12"),
//	         its output tanh(c_t)
//	         n13 = σ(n10+n11) = o   (σ of the sum of four affine leaves)
//	root     h_t = n14 = n12⊙n13 = tanh(c_t)⊙o (identity)
//
// TestNamedCells evaluates both on numbers against these closed forms.
var namedCells = []struct{ name, cell string }{
	{"nascell", "rnn: base8" +
		" | add sigmoid add relu add sigmoid mul relu add tanh add sigmoid add tanh add sigmoid" +
		" | mul tanh add tanh mul tanh add sigmoid" +
		" | mul identity add tanh" +
		" | mul tanh" +
		" | inject add tanh at8 c12"},
	{"lstm", "rnn: base8" +
		" | add sigmoid add tanh add identity add identity add identity add identity add identity add identity" +
		" | mul identity add sigmoid add identity add identity" +
		" | add tanh add sigmoid" +
		" | mul identity" +
		" | inject mul identity at9 c12"},
}

// CellNames returns the names CellByName knows, in order: "nascell" (the
// cell Zoph & Le found, as tf.contrib.rnn.NASCell computes it) and "lstm"
// (an exact LSTM in base 8). The package documentation gives their strings.
func CellNames() []string {
	names := make([]string, len(namedCells))
	for i, c := range namedCells {
		names[i] = c.name
	}
	return names
}

// CellByName returns a fresh copy of a named cell (CellNames), or false for
// an unknown name.
func CellByName(name string) (Cell, bool) {
	for _, c := range namedCells {
		if c.name == name {
			cell, err := ParseCell(c.cell)
			return cell, err == nil // TestNamedCells: every named cell parses
		}
	}
	return Cell{}, false
}
