package onnxgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CellTag is the first token of every cell string, standing alone: the
// kind tag of KindRNN.
const CellTag = string(KindRNN) + ":"

// Tokens of the cell language (see the package documentation).
const (
	cellBasePrefix     = "base"   // base2, base4, base8
	cellInjectToken    = "inject" // opens the inject group
	cellInjectAtPrefix = "at"     // atN: node N receives c_{t-1}
	cellFromPrefix     = "c"      // cM: node M's pre-activation is c_t
)

// cellBases are the tree sizes of the language.
var cellBases = []int{2, 4, 8}

// The tokens of the combinations and activations, indexed by Comb and Act.
var (
	cellCombTokens = [numCombs]string{"add", "mul"}
	cellActTokens  = [numActs]string{"identity", "tanh", "sigmoid", "relu"}
)

const (
	cellCombWant = "add or mul"
	cellActWant  = "identity, tanh, sigmoid or relu"
)

// String returns the combination's token: "add" or "mul" (Comb(N) for a
// value outside the enumeration).
func (c Comb) String() string {
	if c >= 0 && c < numCombs {
		return cellCombTokens[c]
	}
	return "Comb(" + strconv.Itoa(int(c)) + ")"
}

// String returns the activation's token: "identity", "tanh", "sigmoid" or
// "relu" (Act(N) for a value outside the enumeration).
func (a Act) String() string {
	if a >= 0 && a < numActs {
		return cellActTokens[a]
	}
	return "Act(" + strconv.Itoa(int(a)) + ")"
}

// cellLevelSizes returns the number of nodes of each level of a base-b
// tree, from the leaves up (8, 4, 2, 1 for base 8), or nil when b is not a
// base of the language.
func cellLevelSizes(b int) []int {
	if !slices.Contains(cellBases, b) {
		return nil
	}
	var s []int
	for n := b; n >= 1; n /= 2 {
		s = append(s, n)
	}
	return s
}

func cellSizesList(b int) string {
	return fmt.Sprintf("base %d has levels of %s nodes", b, list(cellLevelSizes(b)))
}

// cellNodes is "1 node" or "N nodes".
func cellNodes(n int) string {
	if n == 1 {
		return "1 node"
	}
	return strconv.Itoa(n) + " nodes"
}

// String returns the canonical form of the cell: "rnn: baseB", one
// "|"-separated group per level from the leaves up with "comb act" per node,
// then "| inject COMB ACT atN cM"; one space between tokens. For every valid
// cell ParseCell(c.String()) equals c. An invalid cell (Validate) is written
// as well as it can be, without panicking, and does not parse.
func (c Cell) String() string {
	var b strings.Builder
	b.WriteString(CellTag + " " + cellBasePrefix + strconv.Itoa(c.Base))
	k := 0
	node := func(n CellNode) { b.WriteString(" " + n.Comb.String() + " " + n.Act.String()) }
	for _, n := range cellLevelSizes(c.Base) {
		if k == len(c.Nodes) {
			break
		}
		b.WriteString(" " + SeparatorToken)
		for end := min(k+n, len(c.Nodes)); k < end; k++ {
			node(c.Nodes[k])
		}
	}
	if k < len(c.Nodes) { // an invalid base, or too many nodes
		b.WriteString(" " + SeparatorToken)
		for ; k < len(c.Nodes); k++ {
			node(c.Nodes[k])
		}
	}
	b.WriteString(LayerSeparator + cellInjectToken)
	node(c.Inject)
	fmt.Fprintf(&b, " %s%d %s%d", cellInjectAtPrefix, c.InjectAt, cellFromPrefix, c.CellFrom)
	return b.String()
}

// Validate checks a Cell built in code: a base of 2, 4 or 8, 2·Base−1 nodes,
// every combination and activation one of the enumeration, InjectAt and
// CellFrom nodes of the tree (0 … 2·Base−2; any node, the root and the
// leaves included, and they may be equal). Errors say "onnxgen: cell: ...".
func (c Cell) Validate() error {
	if !slices.Contains(cellBases, c.Base) {
		return fmt.Errorf("onnxgen: cell: base %d (want 2, 4 or 8)", c.Base)
	}
	n := 2*c.Base - 1
	if len(c.Nodes) != n {
		return fmt.Errorf("onnxgen: cell: %s (want %d for base %d: %s)", cellNodes(len(c.Nodes)), n, c.Base, cellSizesList(c.Base))
	}
	for k, nd := range c.Nodes {
		if msg := nd.check(); msg != "" {
			return fmt.Errorf("onnxgen: cell: node %d: %s", k, msg)
		}
	}
	if msg := c.Inject.check(); msg != "" {
		return fmt.Errorf("onnxgen: cell: inject: %s", msg)
	}
	if c.InjectAt < 0 || c.InjectAt >= n {
		return fmt.Errorf("onnxgen: cell: inject node %d out of range (want 0..%d)", c.InjectAt, n-1)
	}
	if c.CellFrom < 0 || c.CellFrom >= n {
		return fmt.Errorf("onnxgen: cell: c_t node %d out of range (want 0..%d)", c.CellFrom, n-1)
	}
	return nil
}

// check says what is wrong with a node's choices, or "".
func (n CellNode) check() string {
	switch {
	case n.Comb < 0 || n.Comb >= numCombs:
		return fmt.Sprintf("combination %d is not add (%d) or mul (%d)", int(n.Comb), CombAdd, CombMul)
	case n.Act < 0 || n.Act >= numActs:
		return fmt.Sprintf("activation %d is not identity (%d), tanh (%d), sigmoid (%d) or relu (%d)", int(n.Act), ActIdentity, ActTanh, ActSigmoid, ActReLU)
	}
	return ""
}

// ParseCell reads a cell string (see the package documentation for the
// grammar): "rnn:", baseB, one "|"-group per level from the leaves up, then
// the inject group. Errors are *ParseError with the position of the
// offending token (counting "|" tokens) or the end of the input.
func ParseCell(s string) (Cell, error) {
	p := &parsed{toks: strings.Fields(s)}
	toks := p.toks
	if len(toks) == 0 {
		return Cell{}, p.errAt(0, "empty cell (want %q, baseB, the levels and the inject group)", CellTag)
	}
	if toks[0] != CellTag {
		switch k, _ := KindOf(s); k {
		case KindRNN:
			return Cell{}, p.errAt(0, "the kind tag %q must stand alone (want %q, then baseB)", CellTag, CellTag)
		case KindCNN:
			return Cell{}, p.errAt(0, "a CNN string, not a cell (want %q first; Parse reads CNN strings)", CellTag)
		default:
			return Cell{}, p.errAt(0, "architecture kind %q is not a cell (want %q first)", k, CellTag)
		}
	}
	base, err := p.cellBase(1)
	if err != nil {
		return Cell{}, err
	}
	c := Cell{Base: base, Nodes: make([]CellNode, 0, 2*base-1)}
	i := 2
	for l, n := range cellLevelSizes(base) {
		switch {
		case i == len(toks):
			return Cell{}, p.errAt(i, "missing level %d (want %q and its %s; %s)", l, SeparatorToken, cellNodes(n), cellSizesList(base))
		case toks[i] != SeparatorToken: // only right after the base: a level ends at "|" or the end
			return Cell{}, p.errAt(i, "want %q after the base (then the %d nodes of level 0)", SeparatorToken, n)
		}
		i++
		end := i
		for end < len(toks) && toks[end] != SeparatorToken {
			end++
		}
		if end > i && toks[i] == cellInjectToken {
			return Cell{}, p.errAt(i, "level %d is missing (want its %s before the inject group; %s)", l, cellNodes(n), cellSizesList(base))
		}
		if err := p.cellLevel(&c, l, n, i, end); err != nil {
			return Cell{}, err
		}
		i = end
	}
	if err := p.cellInject(&c, i); err != nil {
		return Cell{}, err
	}
	return c, nil
}

// cellBase reads the base token at i.
func (p *parsed) cellBase(i int) (int, error) {
	if i == len(p.toks) || p.toks[i] == SeparatorToken || !strings.HasPrefix(p.toks[i], cellBasePrefix) {
		return 0, p.errAt(i, "want the base after %q (base2, base4 or base8: the number of leaves)", CellTag)
	}
	v, msg := parseNumber(cellBasePrefix, p.toks[i][len(cellBasePrefix):])
	switch {
	case msg != "":
		return 0, p.errAt(i, "%s", msg)
	case !slices.Contains(cellBases, v):
		return 0, p.errAt(i, "base %d is not supported (want base2, base4 or base8)", v)
	}
	return v, nil
}

// cellLevel reads level l, the tokens start … end−1 (end is the level's
// closing "|" or the end of the input), which must hold n nodes.
func (p *parsed) cellLevel(c *Cell, l, n, start, end int) error {
	first := len(c.Nodes) // the level's first node
	for j := start; j < end; j += 2 {
		k := len(c.Nodes)
		if k-first == n {
			return p.errAt(j, "level %d has %s (want %d; %s)", l, cellNodes((end-start+1)/2), n, cellSizesList(c.Base))
		}
		comb, ok := cellToken(cellCombTokens[:], p.toks[j])
		if !ok {
			return p.errAt(j, "node %d (level %d): want a combination (%s)", k, l, cellCombWant)
		}
		if j+1 == end {
			return p.errAt(end, "node %d (level %d) has no activation (want %s)", k, l, cellActWant)
		}
		act, ok := cellToken(cellActTokens[:], p.toks[j+1])
		if !ok {
			return p.errAt(j+1, "node %d (level %d): want an activation (%s)", k, l, cellActWant)
		}
		c.Nodes = append(c.Nodes, CellNode{Comb(comb), Act(act)})
	}
	if got := len(c.Nodes) - first; got < n {
		return p.errAt(end, "level %d has %s (want %d; %s)", l, cellNodes(got), n, cellSizesList(c.Base))
	}
	return nil
}

// cellInject reads the inject group, whose "|" is at i (or i is the end),
// and checks that nothing follows it.
func (p *parsed) cellInject(c *Cell, i int) error {
	toks := p.toks
	const want = "inject COMB ACT atN cM"
	if i == len(toks) {
		return p.errAt(i, "missing inject group (want %q then %s)", SeparatorToken, want)
	}
	i++ // the "|"
	switch {
	case i == len(toks) || toks[i] == SeparatorToken:
		return p.errAt(i, "empty inject group (want %s)", want)
	case toks[i] != cellInjectToken:
		return p.errAt(i, "want %q: %s, then the inject group (%s)", cellInjectToken, cellSizesList(c.Base), want)
	}
	i++
	comb, ok := -1, false
	if i < len(toks) {
		comb, ok = cellToken(cellCombTokens[:], toks[i])
	}
	if !ok {
		return p.errAt(i, "inject group: want a combination (%s) merging c_{t-1} into a node", cellCombWant)
	}
	i++
	act, ok := -1, false
	if i < len(toks) {
		act, ok = cellToken(cellActTokens[:], toks[i])
	}
	if !ok {
		return p.errAt(i, "inject group: want an activation (%s) after the combination", cellActWant)
	}
	c.Inject = CellNode{Comb(comb), Act(act)}
	n := len(c.Nodes)
	var err error
	if c.InjectAt, err = p.cellIndex(i+1, cellInjectAtPrefix, "the node that receives c_{t-1}", n); err != nil {
		return err
	}
	if c.CellFrom, err = p.cellIndex(i+2, cellFromPrefix, "the node whose pre-activation is c_t", n); err != nil {
		return err
	}
	if i += 3; i < len(toks) {
		return p.errAt(i, "trailing tokens after the inject group (want the end of the cell)")
	}
	return nil
}

// cellIndex reads the token prefix+N at i, N a node of a tree of n nodes.
func (p *parsed) cellIndex(i int, prefix, what string, n int) (int, error) {
	if i == len(p.toks) || !strings.HasPrefix(p.toks[i], prefix) {
		return 0, p.errAt(i, "inject group: want %sN (N %s, 0..%d)", prefix, what, n-1)
	}
	v, msg := parseNumber(prefix, p.toks[i][len(prefix):])
	switch {
	case msg != "":
		return 0, p.errAt(i, "%s", msg)
	case v >= n:
		return 0, p.errAt(i, "node %d out of range for %s (want 0..%d: base %d has %d nodes)", v, what, n-1, (n+1)/2, n)
	}
	return v, nil
}

// cellToken returns the index of t among the tokens.
func cellToken(tokens []string, t string) (int, bool) {
	i := slices.Index(tokens, t)
	return i, i >= 0
}
