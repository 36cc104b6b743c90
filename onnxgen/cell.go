package onnxgen

// The recurrent cell (kind "rnn:"), the paper's second search space: a
// binary tree of 2·Base−1 nodes computing h_t from x_t and h_{t-1}, with a
// memory state c carried beside it.
//
// Nodes are numbered in level order, leaves first: leaves 0 … Base−1, then
// the next level, … , the root 2·Base−2, whose output is h_t. Leaf i
// computes act(comb(W_i·x_t, U_i·h_{t-1} + b_i)); an inner node k of level
// l combines its two children (2j and 2j+1 of the level below, j its index
// in level l) the same way: act(comb(left, right)). The cell inject merges
// c_{t-1} into node InjectAt's output: out = act_inj(comb_inj(out, c_{t-1}));
// c_t is node CellFrom's pre-activation, comb(left, right) before its
// activation (its children already injected where InjectAt is below it).
//
// Canonical string (Cell.String; ParseCell reads it):
//
//	rnn: base8 | add sigmoid add relu … | mul tanh … | … | inject add tanh at8 c12
//
// the levels from the leaves up, each a "|"-separated group of one
// "comb act" pair per node, then the inject group. See the package
// documentation for the grammar.

// Comb is how a node combines its two inputs.
type Comb int

const (
	CombAdd Comb = iota // elementwise sum
	CombMul             // elementwise product
	numCombs
)

// Act is a node's activation.
type Act int

const (
	ActIdentity Act = iota
	ActTanh
	ActSigmoid
	ActReLU
	numActs
)

// CellNode is one node's choices (or the inject's).
type CellNode struct {
	Comb Comb
	Act  Act
}

// Cell is a recurrent cell (see above). Base is 2, 4 or 8; Nodes has
// 2·Base−1 entries in level order; InjectAt and CellFrom index Nodes.
type Cell struct {
	Base     int
	Nodes    []CellNode
	Inject   CellNode
	InjectAt int
	CellFrom int
}
