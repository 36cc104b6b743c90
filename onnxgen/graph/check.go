package graph

import (
	"fmt"

	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// CheckOrder reports the first value read before it is defined (as a
// graph input, initializer or earlier node output), defined twice, or an
// output never computed.
func CheckOrder(g *onnxpb.GraphProto) error {
	defined := map[string]bool{}
	def := func(n string) error {
		if defined[n] {
			return fmt.Errorf("value %q defined twice", n)
		}
		defined[n] = true
		return nil
	}
	for _, v := range g.GetInput() {
		if err := def(v.GetName()); err != nil {
			return err
		}
	}
	for _, v := range g.GetInitializer() {
		if err := def(v.GetName()); err != nil {
			return err
		}
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" && !defined[in] {
				return fmt.Errorf("node %s (%s) reads %q before it is defined", n.GetName(), n.GetOpType(), in)
			}
		}
		for _, o := range n.GetOutput() {
			if err := def(o); err != nil {
				return err
			}
		}
	}
	for _, o := range g.GetOutput() {
		if !defined[o.GetName()] {
			return fmt.Errorf("output %q is never computed", o.GetName())
		}
	}
	return nil
}
