package viz

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nas-project/nas/onnxgen"
)

// ErrNoGraphviz is wrapped by the error RenderSVG returns when Graphviz's dot
// program is not on the PATH. Callers then write only the DOT text.
var ErrNoGraphviz = errors.New("graphviz's dot program is not installed (install graphviz, e.g. apt-get install graphviz)")

// Colours and fonts of the DOT picture.
const (
	fontName     = "Helvetica"
	imageFill    = "#fdf1dc" // the image: warm
	layerFill    = "#eef3fb" // a convolution with stride 1
	strideFill   = "#d6e4f5" // a convolution that downsamples
	poolFill     = "#e4dcf3" // a layer that max-pools
	headFill     = "#e5f5e0" // the classifier head
	chainColour  = "#555555" // the plain i-1 -> i chain
	skipColour   = "#2b6cb0" // skips, the image into a later layer, extra head inputs
	padColour    = "#c05621" // the "pad" label of a zero-padded input
	titleColumns = 80        // title lines are wrapped to about this many characters
)

// Dot writes the architecture a, a classifier of classes classes for images
// of size in, as a Graphviz DOT digraph named "nas", top to bottom. See the
// package documentation for what it shows. It fails, with the error of
// onnxgen (wrapped, "viz: onnxgen: layer 4: ..."), when a is invalid, does not
// fit the image (a stride or a pool larger than its feature map) or classes < 2. The
// output depends only on the arguments.
func Dot(a onnxgen.Arch, in onnxgen.Input, classes int, title string) (string, error) {
	shapes, err := a.Shapes(in)
	if err != nil {
		return "", fmt.Errorf("viz: %w", err)
	}
	cost, err := a.Cost(in, classes, false)
	if err != nil {
		return "", fmt.Errorf("viz: %w", err)
	}
	head, err := a.HeadShape(in)
	if err != nil {
		return "", fmt.Errorf("viz: %w", err)
	}
	heads := a.HeadInputs()
	last := len(a.Layers) - 1

	var b strings.Builder
	b.WriteString("digraph nas {\n")
	fmt.Fprintf(&b, "\tgraph [rankdir=TB, labelloc=t, fontname=%q, fontsize=13, nodesep=0.35, ranksep=0.4];\n", fontName)
	fmt.Fprintf(&b, "\tnode [shape=box, style=\"rounded,filled\", fillcolor=%q, fontname=%q, fontsize=11];\n", layerFill, fontName)
	fmt.Fprintf(&b, "\tedge [fontname=%q, fontsize=9, color=%q, arrowsize=0.7];\n", fontName, chainColour)

	var lines []string
	if t := clean(title); t != "" {
		for _, l := range strings.Split(t, "\n") {
			lines = append(lines, wrap(strings.Fields(l), " ", titleColumns)...)
		}
	}
	lines = append(lines, wrap(strings.Split(onnxgen.Format(a), onnxgen.LayerSeparator), onnxgen.LayerSeparator, titleColumns)...)
	lines = append(lines, fmt.Sprintf("%d layers, %s parameters, %s multiply-adds per image", len(a.Layers), human(cost.Params), human(cost.FLOPs)))
	fmt.Fprintf(&b, "\tlabel=%s;\n", quote(strings.Join(lines, "\n")))

	fmt.Fprintf(&b, "\timage [label=%s, shape=ellipse, fillcolor=%q];\n", quote("image "+size(in)), imageFill)
	for i, l := range a.Layers {
		text := fmt.Sprintf("L%d  conv %dx%d", i, l.KH, l.KW)
		fill := ""
		switch {
		case l.SH != 1 && l.SH == l.SW:
			text += fmt.Sprintf(" /%d", l.SH)
		case l.SH != 1 || l.SW != 1:
			text += fmt.Sprintf(" /%dx%d", l.SH, l.SW)
		}
		if l.SH != 1 || l.SW != 1 {
			fill = fmt.Sprintf(", fillcolor=%q", strideFill)
		}
		if l.Pool > 0 {
			text += fmt.Sprintf("\n%d filters -> %s\nmax pool %dx%d -> %s", l.Filters, size(shapes[i].Conv), l.Pool, l.Pool, size(shapes[i].Out))
			fill = fmt.Sprintf(", fillcolor=%q", poolFill)
		} else {
			text += fmt.Sprintf("\n%d filters -> %s", l.Filters, size(shapes[i].Out))
		}
		fmt.Fprintf(&b, "\tl%d [label=%s%s];\n", i, quote(text), fill)
	}
	headText := fmt.Sprintf("global avg pool + fc\n-> %d classes", classes)
	if len(heads) > 1 {
		headText = fmt.Sprintf("concat %s + %s", size(head), headText)
	}
	fmt.Fprintf(&b, "\thead [label=%s, fillcolor=%q];\n", quote(headText), headFill)

	// edge writes one edge. from is -1 for the image; chain edges (the
	// previous layer, or the image into layer 0, or the last layer into the
	// head) are solid and heavy, so that they stay a straight spine.
	edge := func(from int, to string, chain bool, into onnxgen.Input) {
		src := "image"
		if from >= 0 {
			src = fmt.Sprintf("l%d", from)
		}
		var attrs []string
		if chain {
			attrs = append(attrs, "weight=8")
		} else {
			attrs = append(attrs, "style=dashed", fmt.Sprintf("color=%q", skipColour))
		}
		if from >= 0 && (shapes[from].Out.H < into.H || shapes[from].Out.W < into.W) {
			attrs = append(attrs, `label=" pad"`, fmt.Sprintf("fontcolor=%q", padColour))
		}
		fmt.Fprintf(&b, "\t%s -> %s [%s];\n", src, to, strings.Join(attrs, ", "))
	}
	for i, l := range a.Layers {
		to := fmt.Sprintf("l%d", i)
		if len(l.Inputs) == 0 {
			edge(-1, to, i == 0, shapes[i].In)
		}
		for _, j := range l.Inputs {
			edge(j, to, j == i-1, shapes[i].In)
		}
		if i > 0 && !feeds(l.Inputs, i-1) {
			// Keep the layers in index order down the page.
			fmt.Fprintf(&b, "\tl%d -> %s [style=invis, weight=8];\n", i-1, to)
		}
	}
	for _, j := range heads {
		edge(j, "head", j == last, head)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// RenderSVG runs Graphviz's dot -Tsvg on a DOT graph and returns the SVG.
// Without dot on the PATH the error wraps ErrNoGraphviz; a graph dot rejects
// gives an error with dot's own message.
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
		return nil, fmt.Errorf("viz: dot -Tsvg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// feeds reports whether layer j is among inputs.
func feeds(inputs []int, j int) bool {
	for _, k := range inputs {
		if k == j {
			return true
		}
	}
	return false
}

// size writes a feature map size as C×H×W.
func size(s onnxgen.Input) string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// clean makes free text safe for a DOT label: invalid UTF-8 becomes U+FFFD,
// line ends become "\n", tabs and other control characters become spaces,
// and the ends are trimmed.
func clean(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	s = strings.Map(func(r rune) rune {
		if r != '\n' && unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// quote is s as a DOT quoted string whose label shows s literally: a
// backslash is doubled (so "\N" or "\l" in s are not label escapes), a
// double quote escaped, "&" written "&amp;" (Graphviz decodes HTML entities
// such as "&lt;" in every label), and a newline becomes the centred line
// break "\n".
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "&", "&amp;", "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// wrap joins parts with sep into lines of at most about width characters,
// breaking only between parts (a part longer than width gets a line of its
// own). A wrapped line keeps the separator without its trailing spaces (for
// " | ", " |") so that it shows the text goes on.
func wrap(parts []string, sep string, width int) []string {
	var lines []string
	cur := ""
	for _, p := range parts {
		switch {
		case cur == "":
			cur = p
		case utf8.RuneCountInString(cur)+len(sep)+utf8.RuneCountInString(p) > width:
			lines = append(lines, strings.TrimRight(cur+sep, " "))
			cur = p
		default:
			cur += sep + p
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// human writes n with a k, M or G suffix and one decimal.
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
