package viz

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/nas-project/nas/onnxgen"
)

var update = flag.Bool("update", false, "rewrite the -- dot -- sections of testdata/*.txtar")

// goldenInput is the image of every golden case: Fashion-MNIST's.
var goldenInput = onnxgen.Input{C: 1, H: 28, W: 28}

// TestDotGolden pins the DOT of each testdata/*.txtar case: the comment says
// why the case exists, -- arch -- is the architecture, -- title -- (optional)
// the title, -- dot -- the expected DOT for a 1x28x28 image and 10 classes.
// Beyond equality it checks that Dot is deterministic, that the edges match
// the architecture, and that Graphviz renders the DOT.
func TestDotGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d golden cases in testdata, want at least 3", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sections := map[string]*txtar.File{}
			for i := range ar.Files {
				sections[ar.Files[i].Name] = &ar.Files[i]
			}
			if sections["arch"] == nil || sections["dot"] == nil {
				t.Fatalf("%s: want sections -- arch -- and -- dot --", file)
			}
			a, err := onnxgen.Parse(string(sections["arch"].Data))
			if err != nil {
				t.Fatal(err)
			}
			title := ""
			if s := sections["title"]; s != nil {
				title = strings.TrimSuffix(string(s.Data), "\n")
			}
			got, err := Dot(a, goldenInput, 10, title)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := Dot(a, goldenInput, 10, title); again != got {
				t.Error("Dot is not deterministic")
			}
			if *update {
				sections["dot"].Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(string(sections["dot"].Data), got); d != "" {
				t.Errorf("%s: DOT differs (-want +got; go test ./internal/viz -update rewrites it):\n%s\nwhy this case exists:\n%s", file, d, ar.Comment)
			}
			checkEdges(t, a, got)
			svg := renderOrFail(t, got)
			for i := range a.Layers {
				if !bytes.Contains(svg, fmt.Appendf(nil, ">L%d ", i)) {
					t.Errorf("SVG has no text for layer %d", i)
				}
			}
		})
	}
}

// edgeRE matches one edge statement of Dot's output.
var edgeRE = regexp.MustCompile(`(?m)^\t(\w+) -> (\w+) \[(.*)\];$`)

// checkEdges checks that the visible edges of dot are exactly one per input
// of every layer (the image for a layer without inputs) and one per head
// input, dashed unless they are the spine, and that invisible edges only keep
// consecutive layers in order.
func checkEdges(t *testing.T, a onnxgen.Arch, dot string) {
	t.Helper()
	want := map[string]bool{} // edge -> dashed
	for i, l := range a.Layers {
		if len(l.Inputs) == 0 {
			want[fmt.Sprintf("image -> l%d", i)] = i > 0
		}
		for _, j := range l.Inputs {
			want[fmt.Sprintf("l%d -> l%d", j, i)] = j != i-1
		}
	}
	for _, j := range a.HeadInputs() {
		want[fmt.Sprintf("l%d -> head", j)] = j != len(a.Layers)-1
	}
	got := map[string]bool{}
	for _, m := range edgeRE.FindAllStringSubmatch(dot, -1) {
		e := m[1] + " -> " + m[2]
		if strings.Contains(m[3], "style=invis") {
			var from, to int
			if _, err := fmt.Sscanf(e, "l%d -> l%d", &from, &to); err != nil || to != from+1 {
				t.Errorf("invisible edge %s does not join consecutive layers", e)
			}
			continue
		}
		if _, dup := got[e]; dup {
			t.Errorf("edge %s drawn twice", e)
		}
		got[e] = strings.Contains(m[3], "style=dashed")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("edges (true: dashed) differ (-want +got):\n%s", d)
	}
}

// renderOrFail renders dot to SVG, failing clearly when Graphviz is missing.
func renderOrFail(t *testing.T, dot string) []byte {
	t.Helper()
	svg, err := RenderSVG(dot)
	if errors.Is(err, ErrNoGraphviz) {
		t.Fatalf("%v: the viz tests need Graphviz's dot on the PATH", err)
	}
	if err != nil {
		t.Fatalf("Graphviz rejected the DOT: %v\n%s", err, dot)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("dot -Tsvg gave no SVG:\n%.300s", svg)
	}
	return svg
}

// TestDotLabels checks what the boxes, edges and title say, on one small
// architecture with a skip, a padded input and a stride.
func TestDotLabels(t *testing.T) {
	a, err := onnxgen.Parse("kh3 kw3 f4 | kh5 kw3 sh2 sw2 f6 in0 | kh3 kw3 f4 in0 in1 | kh1 kw1 sh2 sw1 f3 in2")
	if err != nil {
		t.Fatal(err)
	}
	dot, err := Dot(a, onnxgen.Input{C: 3, H: 8, W: 8}, 5, "my run")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ want, why string }{
		{"digraph nas {", "the graph's name, which nas graph's script checks"},
		{`image [label="image 3x8x8"`, "the input as CxHxW"},
		{`l1 [label="L1  conv 5x3 /2\n6 filters -> 6x4x4"`, "kernel KHxKW, square stride as /2, filters, output CxHxW"},
		{`l3 [label="L3  conv 1x1 /2x1\n3 filters -> 3x4x8"`, "a non-square stride as /SHxSW"},
		{"l0 -> l1 [weight=8];", "the chain is solid and heavy"},
		{`l0 -> l2 [style=dashed, color="#2b6cb0"];`, "a skip is dashed and blue"},
		{`l1 -> l2 [weight=8, label=" pad"`, "a 4x4 input zero-padded to 8x8 says pad"},
		{`l3 -> head [weight=8];`, "the last layer feeds the head"},
		{`head [label="global avg pool + fc\n-> 5 classes"`, "one head input: no concat"},
		{`label="my run\nkh3 kw3 f4 | kh5 kw3 sh2 sw2 f6 in0 | kh3 kw3 f4 in0 in1 | kh1 kw1 sh2 f3 in2\n4 layers, `, "title, canonical architecture, cost"},
	} {
		if !strings.Contains(dot, c.want) {
			t.Errorf("DOT lacks %q (%s):\n%s", c.want, c.why, dot)
		}
	}
}

// TestDotEscaping feeds Dot titles that would break a naive DOT writer and
// checks that Graphviz parses the result and shows the text literally.
func TestDotEscaping(t *testing.T) {
	a, err := onnxgen.Parse("kh1 kw1 f2")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, title, inSVG, why string
	}{
		{"quotes", `say "hi"`, `say &quot;hi&quot;`, "a quote must not end the DOT string"},
		{"backslash", `a\b \N \l \"`, `a\b \N \l \&quot;`, `a backslash is literal, not a label escape such as \N (node name)`},
		{"braces", `} digraph { <b>&amp; & &#38;`, `} digraph { &lt;b&gt;&amp;amp; &amp; &amp;#38;`, "DOT and XML syntax, and entities, shown literally"},
		{"lines", "first\r\nsecond\rthird\tfourth", ">second<", "CR, CRLF and LF all break lines; a tab is a space"},
		{"control", "bell\a! nul\x00!", ">bell ! nul !<", "control characters become spaces"},
		{"utf8", "µ=0.9 \xff", "µ=0.9 \uFFFD", "invalid UTF-8 becomes U+FFFD"},
		{"long", strings.Repeat("word ", 40), ">word word", "long titles wrap"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dot, err := Dot(a, onnxgen.Input{C: 1, H: 4, W: 4}, 2, c.title)
			if err != nil {
				t.Fatal(err)
			}
			svg := renderOrFail(t, dot)
			if !bytes.Contains(svg, []byte(c.inSVG)) {
				t.Errorf("%s: SVG lacks %q:\n%s", c.why, c.inSVG, svg)
			}
		})
	}
}

func TestDotErrors(t *testing.T) {
	chain, err := onnxgen.Parse("kh3 kw3 f4 | kh3 kw3 sh2 sw2 f4 in0")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		a       onnxgen.Arch
		in      onnxgen.Input
		classes int
		want    string
	}{
		{"stride larger than the map", chain, onnxgen.Input{C: 1, H: 1, W: 1}, 10, "viz: onnxgen: layer 1: stride 2x2 on a 1x1 feature map"},
		{"one class", chain, goldenInput, 1, "viz: onnxgen: 1 classes"},
		{"a pool on 1x1", onnxgen.Arch{Layers: []onnxgen.Layer{{KH: 1, KW: 1, SH: 3, SW: 3, Filters: 1, Pool: 2}}}, onnxgen.Input{C: 1, H: 3, W: 3}, 10, "viz: onnxgen: layer 0: 2x2 max pool on a 1x1 feature map (input 3x3)"},
		{"no layers", onnxgen.Arch{}, goldenInput, 10, "viz: onnxgen: architecture has no layers"},
		{"empty image", chain, onnxgen.Input{}, 10, "viz: onnxgen: input 0x0x0 is not positive"},
		{"a later input", onnxgen.Arch{Layers: []onnxgen.Layer{{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 1, Inputs: []int{0}}}}, goldenInput, 10, "viz: onnxgen: layer 0: cannot be fed by layer 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dot, err := Dot(c.a, c.in, c.classes, "")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("Dot = %q, %v; want error %q...", dot, err, c.want)
			}
		})
	}
}

func TestRenderSVGWithoutGraphviz(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := RenderSVG("digraph nas {}")
	if !errors.Is(err, ErrNoGraphviz) {
		t.Fatalf("RenderSVG without dot on the PATH: %v, want ErrNoGraphviz", err)
	}
	if !strings.Contains(err.Error(), "install graphviz") {
		t.Errorf("error %q does not say to install graphviz", err)
	}
}

func TestRenderSVGRejects(t *testing.T) {
	renderOrFail(t, "digraph nas {}") // Graphviz present
	_, err := RenderSVG("digraph nas { a -> ")
	if err == nil || !strings.HasPrefix(err.Error(), "viz: dot -Tsvg: ") || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("RenderSVG of broken DOT: %v, want viz: dot -Tsvg: ... syntax error", err)
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		parts []string
		sep   string
		width int
		want  []string
		why   string
	}{
		{[]string{"ab", "cd"}, " | ", 20, []string{"ab | cd"}, "fits on one line"},
		{[]string{"ab", "cd", "ef"}, " | ", 7, []string{"ab | cd |", "ef"}, "a wrapped line keeps the separator"},
		{[]string{"a", "bb", "c"}, " ", 3, []string{"a", "bb", "c"}, "spaces are dropped at a break"},
		{[]string{"toolongword", "x"}, " ", 4, []string{"toolongword", "x"}, "a long part gets its own line"},
		{nil, " ", 4, nil, "nothing"},
	} {
		if got := wrap(c.parts, c.sep, c.width); !cmp.Equal(got, c.want) {
			t.Errorf("wrap(%q, %q, %d) = %q, want %q (%s)", c.parts, c.sep, c.width, got, c.want, c.why)
		}
	}
}

func BenchmarkDot(b *testing.B) {
	a, err := onnxgen.Parse("kh3 kw3 f36 | kh5 kw5 f48 in0 | kh3 kw3 sh2 sw2 f64 in0 in1 | kh7 kw5 f36 in2 | kh1 kw7 f48 in1 in3 | kh3 kw3 sh2 sw2 f64 in2 in4 | kh5 kw3 f36 in5 | kh3 kw3 f48 in0 in5 in6 | kh1 kw1 f24 in7")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Dot(a, onnxgen.Input{C: 3, H: 32, W: 32}, 10, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderSVG(b *testing.B) {
	a, err := onnxgen.Parse("kh3 kw3 f36 | kh5 kw5 f48 in0 | kh3 kw3 sh2 sw2 f64 in0 in1 | kh7 kw5 f36 in2")
	if err != nil {
		b.Fatal(err)
	}
	dot, err := Dot(a, onnxgen.Input{C: 3, H: 32, W: 32}, 10, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := RenderSVG(dot); err != nil {
			b.Fatal(err)
		}
	}
}
