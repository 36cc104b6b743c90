package viz

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nas-project/nas/onnxgen"
)

var update = flag.Bool("update", false, "rewrite the golden DOT files")

// TestDot pins the DOT of three architectures (golden files in testdata,
// -update rewrites them) and checks that Graphviz accepts each.
func TestDot(t *testing.T) {
	cases := []struct {
		name, arch, why string
	}{
		{"chain", "kh3 kw3 f24 | kh5 kw5 f36 in0 | kh3 kw3 f48 in1", "a plain chain: solid edges only, one head input"},
		{"skips", "kh3 kw3 f24 | kh3 kw3 sh2 sw2 f36 in0 | kh3 kw3 f24 in0 in1 | kh1 kw1 f24", "skips (dashed), a zero-padded input (pad), a layer on the image, two head inputs"},
		{"strides", "kh7 kw1 sh3 f64 | kh1 kw7 sw3 f48 in0 | kh3 kw3 sh2 sw2 f36 in1", "strides shown when not 1x1, non-square kernels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := onnxgen.Parse(c.arch)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Dot(a, onnxgen.Input{C: 1, H: 28, W: 28}, 10, c.arch)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.name+".dot")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/viz -update)", err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("%s (%s): DOT differs (-want +got):\n%s", c.name, c.why, d)
			}
			svg, err := RenderSVG(got)
			if errors.Is(err, ErrNoGraphviz) {
				t.Fatalf("%v: run make test-deps", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("L2")) {
				t.Errorf("dot -Tsvg gave no picture of the layers:\n%.300s", svg)
			}
		})
	}
}

func TestDotSkipsAndPadding(t *testing.T) {
	a, err := onnxgen.Parse("kh3 kw3 f4 | kh3 kw3 sh2 sw2 f4 in0 | kh3 kw3 f4 in0 in1")
	if err != nil {
		t.Fatal(err)
	}
	dot, err := Dot(a, onnxgen.Input{C: 3, H: 8, W: 8}, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"l0 -> l1;",                           // the chain
		"l0 -> l2 [style=dashed",              // a skip
		"l1 -> l2 [label=\"pad\"];",           // 4x4 zero-padded to 8x8
		"l2 -> head;",                         // the last layer into the head
		"4 filters -> 4x4x4",                  // C×H×W after stride 2
		"conv 3x3 /2x2",                       // the stride
		"image 3x8x8",                         // the input
		"global avg pool + fc\\n-> 5 classes", // the head
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	if _, err := Dot(a, onnxgen.Input{C: 3, H: 1, W: 1}, 5, ""); err == nil {
		t.Error("Dot accepted a stride 2 on a 1x1 map")
	}
}

func TestPlotRewards(t *testing.T) {
	for _, n := range []int{0, 1, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var pts []Point
			for i := range n {
				g := []string{"done", "diverged", "duplicate"}[i%3]
				r := 0.5 + 0.4*math.Sin(float64(i)/7)
				if i == 5 {
					r = math.NaN() // left out
				}
				pts = append(pts, Point{Index: i, Reward: r, Group: g})
			}
			var buf bytes.Buffer
			if err := PlotRewards(pts, "test", &buf); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() < 700 || b.Dy() < 400 {
				t.Errorf("PNG %v, want about 800x500", b)
			}
		})
	}
}
