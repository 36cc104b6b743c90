package viz

import (
	"fmt"
	"strings"

	"github.com/nas-project/nas/onnxgen"
)

// Colours of a cell's picture.
const (
	inputFill  = "#fdf1dc" // x_t and h_{t-1}: warm, as the image
	memoryFill = "#fde2e2" // c_{t-1} and c_t
	nodeFill   = "#eef3fb" // a tree node
	memColour  = "#c53030" // the memory state's edges
)

var (
	combNames = [...]string{onnxgen.CombAdd: "+", onnxgen.CombMul: "×"}
	actNames  = [...]string{onnxgen.ActIdentity: "identity", onnxgen.ActTanh: "tanh", onnxgen.ActSigmoid: "sigmoid", onnxgen.ActReLU: "relu"}
)

func nodeLabel(n onnxgen.CellNode) string {
	if int(n.Comb) >= len(combNames) || int(n.Act) >= len(actNames) || n.Comb < 0 || n.Act < 0 {
		return "?"
	}
	return actNames[n.Act] + "(" + combNames[n.Comb] + ")"
}

// CellDot writes a recurrent cell as a Graphviz DOT digraph named "cell",
// bottom to top: x_t and h_{t-1} feed every leaf, each node shows its
// activation and combination ("tanh(+)") and its number, and the memory
// state's path is red: c_{t-1} into the inject at node InjectAt (the
// inject's own activation and combination on its edge), c_t out of node
// CellFrom's pre-activation. The root's output is h_t. It fails on a cell
// that does not validate. The output depends only on the arguments.
func CellDot(c onnxgen.Cell, title string) (string, error) {
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("viz: %w", err)
	}
	var b strings.Builder
	b.WriteString("digraph cell {\n")
	fmt.Fprintf(&b, "\tgraph [rankdir=BT, labelloc=t, fontname=%q, fontsize=13, nodesep=0.3, ranksep=0.45];\n", fontName)
	fmt.Fprintf(&b, "\tnode [shape=box, style=\"rounded,filled\", fillcolor=%q, fontname=%q, fontsize=11];\n", nodeFill, fontName)
	fmt.Fprintf(&b, "\tedge [fontname=%q, fontsize=9, color=%q, arrowsize=0.7];\n", fontName, chainColour)
	if t := clean(title); t != "" {
		fmt.Fprintf(&b, "\tlabel=%s;\n", quote(strings.Join(wrap(strings.Fields(t), " ", titleColumns), "\n")))
	}
	fmt.Fprintf(&b, "\tx [label=\"x_t\", fillcolor=%q];\n", inputFill)
	fmt.Fprintf(&b, "\th [label=\"h_{t-1}\", fillcolor=%q];\n", inputFill)
	fmt.Fprintf(&b, "\tcprev [label=\"c_{t-1}\", fillcolor=%q];\n", memoryFill)
	fmt.Fprintf(&b, "\tcnext [label=\"c_t\", fillcolor=%q];\n", memoryFill)
	fmt.Fprintf(&b, "\tout [label=\"h_t\", fillcolor=%q];\n", headFill)
	for k, n := range c.Nodes {
		fmt.Fprintf(&b, "\tn%d [label=%s];\n", k, quote(fmt.Sprintf("%d: %s", k, nodeLabel(n))))
	}
	// Leaves take x_t and h_{t-1}; an inner node its two children.
	for k := 0; k < c.Base; k++ {
		fmt.Fprintf(&b, "\tx -> n%d;\n\th -> n%d;\n", k, k)
	}
	start, width := 0, c.Base
	for width > 1 {
		for j := 0; j < width/2; j++ {
			parent := start + width + j
			fmt.Fprintf(&b, "\tn%d -> n%d;\n\tn%d -> n%d;\n", start+2*j, parent, start+2*j+1, parent)
		}
		start, width = start+width, width/2
	}
	fmt.Fprintf(&b, "\tn%d -> out;\n", len(c.Nodes)-1)
	fmt.Fprintf(&b, "\tcprev -> n%d [color=%q, fontcolor=%q, label=%s];\n", c.InjectAt, memColour, memColour, quote("inject "+nodeLabel(c.Inject)))
	fmt.Fprintf(&b, "\tn%d -> cnext [color=%q, fontcolor=%q, label=\"pre-activation\"];\n", c.CellFrom, memColour, memColour)
	b.WriteString("\t{rank=same; x; h; cprev;}\n")
	b.WriteString("}\n")
	return b.String(), nil
}
