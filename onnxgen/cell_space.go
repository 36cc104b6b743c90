package onnxgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CellSpace is the recurrent-cell search space of one tree size: every cell
// of base Base, any choice at every node, the inject at any node and c_t
// from any node.
type CellSpace struct {
	// Base is the number of leaves: 2, 4 or 8 (the paper's). Zero is
	// invalid.
	Base int
}

// cellSpaceNames are the presets of CellSpaceByName, in order.
var cellSpaceNames = []string{"cell8", "cell4", "cell2"}

// CellSpaceNames returns the names CellSpaceByName knows, in order: "cell8"
// (the paper's base 8), "cell4" and "cell2" (smaller trees, for quick
// searches and tests).
func CellSpaceNames() []string { return slices.Clone(cellSpaceNames) }

// CellSpaceByName returns the preset cell space "cellB": CellSpace{Base: B}
// for B = 8, 4 or 2.
func CellSpaceByName(name string) (CellSpace, error) {
	if slices.Contains(cellSpaceNames, name) {
		b, _ := strconv.Atoi(strings.TrimPrefix(name, "cell"))
		return CellSpace{Base: b}, nil
	}
	return CellSpace{}, fmt.Errorf("onnxgen: unknown cell space %q (want %s)", name, strings.Join(cellSpaceNames, ", "))
}

// Name is the space's preset name, "cell8" for base 8.
func (s CellSpace) Name() string { return "cell" + strconv.Itoa(s.Base) }

// Validate checks the space: a base of 2, 4 or 8.
func (s CellSpace) Validate() error {
	if !slices.Contains(cellBases, s.Base) {
		return fmt.Errorf("onnxgen: cell space: base %d (want 2, 4 or 8)", s.Base)
	}
	return nil
}

// Cell decision names (CellSpace.Decisions): node k's are "nK.comb" and
// "nK.act".
const (
	CellDecisionInjectComb = "inject.comb"
	CellDecisionInjectAct  = "inject.act"
	CellDecisionInjectAt   = "inject.at"
	CellDecisionCellFrom   = "cell.from"
)

// Decisions lists the decisions of a cell in the order the controller
// samples them, 4·Base+2 in all: for every node k = 0 … 2·Base−2 in level
// order "nK.comb" (tokens add, mul) then "nK.act" (identity, tanh, sigmoid,
// relu); then "inject.comb", "inject.act", and the two pointer decisions
// over the tree's nodes, "inject.at" (the node that receives c_{t-1}) and
// "cell.from" (the node whose pre-activation is c_t), whose tokens are the
// node numbers "0" … "2·Base−2". A decision vector picks one token index per
// decision; Cell turns it into a Cell, whose String is the cell string.
// Every decision has at least two options. An invalid space has none (nil).
func (s CellSpace) Decisions() []Decision {
	if s.Validate() != nil {
		return nil
	}
	n := 2*s.Base - 1
	combs, acts := cellCombTokens[:], cellActTokens[:]
	nodes := make([]string, n)
	for k := range nodes {
		nodes[k] = strconv.Itoa(k)
	}
	ds := make([]Decision, 0, 2*n+4)
	for k := range n {
		ds = append(ds,
			Decision{Name: "n" + strconv.Itoa(k) + ".comb", Tokens: slices.Clone(combs)},
			Decision{Name: "n" + strconv.Itoa(k) + ".act", Tokens: slices.Clone(acts)})
	}
	return append(ds,
		Decision{Name: CellDecisionInjectComb, Tokens: slices.Clone(combs)},
		Decision{Name: CellDecisionInjectAct, Tokens: slices.Clone(acts)},
		Decision{Name: CellDecisionInjectAt, Tokens: nodes},
		Decision{Name: CellDecisionCellFrom, Tokens: slices.Clone(nodes)})
}

// Choices is the decision vector of a cell of the space, in the order of
// Decisions: per node its Comb and Act, then the inject's Comb and Act,
// InjectAt and CellFrom. c must be valid (Cell.Validate) and of the space's
// base.
func (s CellSpace) Choices(c Cell) ([]int, error) {
	if err := s.check(c); err != nil {
		return nil, err
	}
	out := make([]int, 0, 2*len(c.Nodes)+4)
	for _, nd := range c.Nodes {
		out = append(out, int(nd.Comb), int(nd.Act))
	}
	return append(out, int(c.Inject.Comb), int(c.Inject.Act), c.InjectAt, c.CellFrom), nil
}

// Cell is the inverse of Choices: the cell a decision vector describes. It
// is an error when the vector's length is not 4·Base+2 or an entry is not an
// index of its decision's tokens (the error names the entry and the
// decision).
func (s CellSpace) Cell(choices []int) (Cell, error) {
	ds := s.Decisions()
	if ds == nil {
		return Cell{}, s.Validate()
	}
	if len(choices) != len(ds) {
		return Cell{}, fmt.Errorf("onnxgen: cell space %s: %d choices (want %d: %d nodes × comb, act, then inject comb, act, at and cell from)", s.Name(), len(choices), len(ds), 2*s.Base-1)
	}
	for i, v := range choices {
		if v < 0 || v >= len(ds[i].Tokens) {
			return Cell{}, fmt.Errorf("onnxgen: cell space %s: choice %d (%s) is %d (want 0..%d)", s.Name(), i, ds[i].Name, v, len(ds[i].Tokens)-1)
		}
	}
	n := 2*s.Base - 1
	c := Cell{Base: s.Base, Nodes: make([]CellNode, n)}
	for k := range c.Nodes {
		c.Nodes[k] = CellNode{Comb(choices[2*k]), Act(choices[2*k+1])}
	}
	r := choices[2*n:]
	c.Inject = CellNode{Comb(r[0]), Act(r[1])}
	c.InjectAt, c.CellFrom = r[2], r[3]
	return c, nil
}

// ParseCell parses str (ParseCell) and checks that the cell is of the
// space's base; a cell of another base is a *ParseError at its base token.
// An invalid space is reported as Validate reports it.
func (s CellSpace) ParseCell(str string) (Cell, error) {
	if err := s.Validate(); err != nil {
		return Cell{}, err
	}
	c, err := ParseCell(str)
	if err != nil {
		return Cell{}, err
	}
	if c.Base != s.Base {
		p := &parsed{toks: strings.Fields(str)}
		return Cell{}, p.errAt(1, "base %d not in cell space %s (want %s%d)", c.Base, s.Name(), cellBasePrefix, s.Base)
	}
	return c, nil
}

// check checks a cell built in code against the space.
func (s CellSpace) check(c Cell) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Base != s.Base {
		return fmt.Errorf("onnxgen: cell: base %d not in cell space %s (want %d)", c.Base, s.Name(), s.Base)
	}
	return nil
}
