package viz

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/nas-project/nas/onnxgen"
)

// ErrNoGraphviz is wrapped by RenderSVG when the dot program is missing.
var ErrNoGraphviz = errors.New("graphviz's dot is not installed (apt-get install graphviz)")

// Dot is the architecture a as a Graphviz graph, top to bottom: the image, one
// box per layer (index, kernel, stride when not 1×1, filters, output size;
// sizes are C×H×W),
// an edge for every input (the plain chain from the previous layer solid,
// skip connections dashed and blue, labelled "pad" when the input is
// zero-padded to a larger map), and the head fed by every unused output.
// The title, when not empty, heads the picture.
func Dot(a onnxgen.Arch, in onnxgen.Input, classes int, title string) (string, error) {
	shapes, err := a.Shapes(in)
	if err != nil {
		return "", err
	}
	head, err := a.HeadShape(in)
	if err != nil {
		return "", err
	}
	cost, err := a.Cost(in, classes, false)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("digraph nas {\n")
	b.WriteString("\trankdir=TB;\n\tnode [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("\tedge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n")
	label := fmt.Sprintf("%d layers, %s parameters, %s multiply-adds per image", len(a.Layers), human(cost.Params), human(cost.FLOPs))
	if title != "" {
		label = title + "\n" + label
	}
	fmt.Fprintf(&b, "\tlabelloc=t;\n\tfontname=\"Helvetica\";\n\tfontsize=12;\n\tlabel=%s;\n", quote(label))
	fmt.Fprintf(&b, "\timage [label=%s, shape=ellipse, fillcolor=\"#fdf1dc\"];\n", quote(fmt.Sprintf("image %dx%dx%d", in.C, in.H, in.W)))
	for i, l := range a.Layers {
		s := shapes[i]
		text := fmt.Sprintf("L%d  conv %dx%d", i, l.KH, l.KW)
		if l.SH != 1 || l.SW != 1 {
			text += fmt.Sprintf(" /%dx%d", l.SH, l.SW)
		}
		text += fmt.Sprintf("\n%d filters -> %dx%dx%d", l.Filters, s.Out.C, s.Out.H, s.Out.W)
		fmt.Fprintf(&b, "\tl%d [label=%s];\n", i, quote(text))
	}
	fmt.Fprintf(&b, "\thead [label=%s, fillcolor=\"#e5f5e0\"];\n",
		quote(fmt.Sprintf("concat %dx%dx%d + global avg pool + fc\n-> %d classes", head.C, head.H, head.W, classes)))
	edge := func(from string, j int, to string, size onnxgen.Input, skip bool) {
		var attrs []string
		if skip {
			attrs = append(attrs, "style=dashed", "color=\"#2b6cb0\"")
		}
		if j >= 0 && (shapes[j].Out.H < size.H || shapes[j].Out.W < size.W) {
			attrs = append(attrs, "label=\"pad\"")
		}
		fmt.Fprintf(&b, "\t%s -> %s", from, to)
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	for i, l := range a.Layers {
		if len(l.Inputs) == 0 {
			edge("image", -1, fmt.Sprintf("l%d", i), shapes[i].In, i > 0)
			continue
		}
		for _, j := range l.Inputs {
			edge(fmt.Sprintf("l%d", j), j, fmt.Sprintf("l%d", i), shapes[i].In, j != i-1)
		}
	}
	hs := a.HeadInputs()
	for _, j := range hs {
		edge(fmt.Sprintf("l%d", j), j, "head", head, j != len(a.Layers)-1)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// RenderSVG runs Graphviz's dot on a DOT graph and returns the SVG.
func RenderSVG(dot string) ([]byte, error) {
	path, err := exec.LookPath("dot")
	if err != nil {
		return nil, fmt.Errorf("viz: %w", ErrNoGraphviz)
	}
	cmd := exec.Command(path, "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("viz: dot -Tsvg: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// quote is s as a DOT string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// human writes n with a k/M/G suffix.
func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
