package search

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nas-project/nas/controller"
	"github.com/nas-project/nas/onnxgen"
)

// Kinds of child.
const (
	// KindCNN: an image classifier in onnxgen's CNN language (spaces v1, v2,
	// v3, v3-wide).
	KindCNN = "cnn"
	// KindRNN: a language model whose recurrent cell is in onnxgen's cell
	// language (spaces cell2, cell4, cell8: the tree's base).
	KindRNN = "rnn"
)

// kind is what the loop knows of a kind of child: its search space as a
// program of decisions (the controller samples it; random search and
// evolution draw and mutate the same decision vectors), how a written string
// becomes canonical, how a canonical one becomes a decision vector again (an
// evolution parent), and the depth of each iteration. The child's training
// options travel to the evaluator untouched (Trial.Child).
type kind interface {
	program() controller.Space
	// canonical checks a string against the space and returns its
	// canonical form.
	canonical(arch string) (string, error)
	// encode is the decision vector of a canonical architecture.
	encode(arch string) (layers int, choices []int, err error)
	// depth is the number of layers of the iteration whose first trial is
	// start.
	depth(start int) int
}

// newKind is the kind the options name (defaults resolved).
func newKind(o Options) (kind, error) {
	switch o.Kind {
	case KindCNN:
		sp, err := o.space()
		if err != nil {
			return nil, err
		}
		return &cnn{sp: sp, prog: ControllerSpace(sp), sched: o.Schedule}, nil
	case KindRNN:
		sp, err := o.cellSpace()
		if err != nil {
			return nil, err
		}
		return &rnn{sp: sp, prog: CellControllerSpace(sp)}, nil
	}
	return nil, fmt.Errorf("search: unknown kind of child %q (want %s or %s)", o.Kind, KindCNN, KindRNN)
}

// cnn is the CNN kind over an onnxgen space.
type cnn struct {
	sp    onnxgen.Space
	prog  controller.Space
	sched Schedule
}

// ControllerSpace is the program of an onnxgen CNN space: per layer its
// Decisions (kh, kw, sh, sw, f, and p in a space that searches pooling; fixed
// where a field has one option), then the anchors, or the chain when the
// space has no skip connections.
func ControllerSpace(sp onnxgen.Space) controller.Space {
	var ds []controller.Decision
	for _, d := range sp.Decisions() {
		ds = append(ds, controller.Decision{Name: d.Name, Tokens: d.Tokens})
	}
	return controller.Layered(ds, sp.Anchors, onnxgen.AnchorPrefix, onnxgen.LayerSeparator)
}

func (k *cnn) program() controller.Space { return k.prog }

func (k *cnn) canonical(arch string) (string, error) {
	a, err := k.sp.ParseArch(arch)
	if err != nil {
		return "", err
	}
	return onnxgen.Format(a), nil
}

func (k *cnn) encode(arch string) (int, []int, error) {
	a, err := k.sp.ParseArch(arch)
	if err != nil {
		return 0, nil, err
	}
	ch, err := k.sp.Choices(a)
	return len(a.Layers), ch, err
}

func (k *cnn) depth(start int) int {
	s := k.sched
	return min(k.sp.MaxLayers, s.StartLayers+s.LayerStep*(start/s.LayerEvery))
}

// rnn is the recurrent-cell kind over a tree of one base: one "layer" of
// decisions, the cell.
type rnn struct {
	sp   onnxgen.CellSpace
	prog controller.Space
}

// CellControllerSpace is the program of a cell space: its Decisions (per
// node of the tree the combination and the activation, then the inject's,
// then the two pointers over the nodes: a choice among the tree's nodes) as
// one layer. The program's tokens must be unique, so each is the cell
// language's token, "@" and the decision's name ("add@n3.comb"); the kind's
// canonical form reads them back.
func CellControllerSpace(sp onnxgen.CellSpace) controller.Space {
	var ds []controller.Decision
	for _, d := range sp.Decisions() {
		toks := make([]string, len(d.Tokens))
		for i, t := range d.Tokens {
			toks[i] = cellToken(t, d.Name)
		}
		ds = append(ds, controller.Decision{Name: d.Name, Tokens: toks})
	}
	return controller.Layered(ds, false, cellChainPrefix, onnxgen.LayerSeparator)
}

// cellChainPrefix is the cell program's (unused: a cell is one layer)
// chain prefix; no token starts with it.
const cellChainPrefix = "<-"

func cellToken(tok, decision string) string { return tok + "@" + decision }

func (k *rnn) program() controller.Space { return k.prog }

// canonical reads a cell string ("rnn: base8 | …") or the program's own
// rendering of a decision vector (its tokens in decision order).
func (k *rnn) canonical(arch string) (string, error) {
	if kd, _ := onnxgen.KindOf(arch); kd == onnxgen.KindRNN {
		c, err := k.cell(arch)
		if err != nil {
			return "", err
		}
		return c.String(), nil
	}
	ds := k.prog.Decisions
	toks := strings.Fields(arch)
	if len(toks) != len(ds) {
		return "", fmt.Errorf("search: a cell of %d decisions, %d tokens: %q", len(ds), len(toks), arch)
	}
	ch := make([]int, len(ds))
	for i, t := range toks {
		ch[i] = slices.Index(ds[i].Tokens, t)
		if ch[i] < 0 {
			return "", fmt.Errorf("search: cell decision %s: token %q is not one of %v", ds[i].Name, t, ds[i].Tokens)
		}
	}
	c, err := k.sp.Cell(ch)
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

// cell parses a cell string of the space's base.
func (k *rnn) cell(arch string) (onnxgen.Cell, error) {
	c, err := onnxgen.ParseCell(arch)
	if err != nil {
		return onnxgen.Cell{}, err
	}
	if c.Base != k.sp.Base {
		return onnxgen.Cell{}, fmt.Errorf("search: cell of base %d in a space of base %d", c.Base, k.sp.Base)
	}
	return c, nil
}

func (k *rnn) encode(arch string) (int, []int, error) {
	c, err := k.cell(arch)
	if err != nil {
		return 0, nil, err
	}
	ch, err := k.sp.Choices(c)
	return 1, ch, err
}

func (k *rnn) depth(int) int { return 1 }
