package search

import (
	"fmt"

	"github.com/nas-project/nas/controller"
	"github.com/nas-project/nas/onnxgen"
)

// Kinds of child.
const (
	// KindCNN: an image classifier in onnxgen's CNN language (spaces v1, v2,
	// v3, v3-wide).
	KindCNN = "cnn"
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
	}
	return nil, fmt.Errorf("search: unknown kind of child %q (want %s)", o.Kind, KindCNN)
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
