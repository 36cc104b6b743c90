package onnxgen

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"golang.org/x/tools/txtar"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCase is one testdata/*.txtar file. Its comment's first line is
// "input CxHxW classes K" with an optional " bn" (batch norm on); the rest
// says why the case exists. Section "arch" holds the architecture string.
type goldenCase struct {
	file    string
	in      Input
	classes int
	bn      bool
	arch    string
	ar      *txtar.Archive
}

// options are the compile options of a golden case.
func (c *goldenCase) options() Options { return Options{BatchNorm: c.bn, Seed: 1} }

// inferModel compiles the case's inference graph.
func (c *goldenCase) inferModel() (*onnxpb.ModelProto, error) {
	a, err := Parse(c.arch)
	if err != nil {
		return nil, err
	}
	return Compile(a, c.in, c.classes, c.options())
}

// trainModel compiles the case's training-step graph with the paper's SGD
// (momentum 0.9, weight decay 1e-4, Nesterov), so that every op shows.
func (c *goldenCase) trainModel() (*onnxpb.ModelProto, error) {
	a, err := Parse(c.arch)
	if err != nil {
		return nil, err
	}
	return CompileTrain(a, c.in, c.classes, TrainOptions{Options: c.options(), Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true})
}

// goldenSection is a section a golden file may hold: gen returns the
// model to print in it. The "error" section holds the error of the first
// generator that fails.
type goldenSection struct {
	name string
	gen  func(c *goldenCase) (*onnxpb.ModelProto, error)
}

// goldenSections are the generated sections, in file order; adding a graph
// kind is one line here. Sections a file holds that are not listed here
// are kept by -update and not compared.
var goldenSections = []goldenSection{
	{"infer", (*goldenCase).inferModel},
	{"train", (*goldenCase).trainModel},
}

func readGolden(t *testing.T, file string) *goldenCase {
	t.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &goldenCase{file: file, ar: ar}
	first, _, _ := strings.Cut(string(ar.Comment), "\n")
	var bn string
	n, err := fmt.Sscanf(first, "input %dx%dx%d classes %d %s", &c.in.C, &c.in.H, &c.in.W, &c.classes, &bn)
	if (n != 4 && n != 5) || (n == 5 && bn != "bn") {
		t.Fatalf("%s: first comment line %q, want \"input CxHxW classes K [bn]\" (%v)", file, first, err)
	}
	c.bn = n == 5
	arch, ok := section(ar, "arch")
	if !ok {
		t.Fatalf("%s: no -- arch -- section", file)
	}
	c.arch = strings.TrimSpace(arch)
	return c
}

func section(ar *txtar.Archive, name string) (string, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata (%v)", err)
	}
	return files
}

// generate produces every known section of c; an error ends the list with
// an "error" section.
func generate(c *goldenCase) (map[string]string, map[string]*onnxpb.ModelProto) {
	out := map[string]string{}
	models := map[string]*onnxpb.ModelProto{}
	for _, s := range goldenSections {
		m, err := s.gen(c)
		if err != nil {
			out["error"] = err.Error() + "\n"
			return out, models
		}
		out[s.name] = graph.Text(m)
		models[s.name] = m
	}
	return out, models
}

func TestGolden(t *testing.T) {
	for _, file := range goldenFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			c := readGolden(t, file)
			have, models := generate(c)
			known := map[string]bool{"arch": true, "error": true}
			for _, s := range goldenSections {
				known[s.name] = true
			}
			if *update {
				writeGolden(t, c, have, known)
				return
			}
			for name := range known {
				if name == "arch" {
					continue
				}
				want, inFile := section(c.ar, name)
				got, generated := have[name]
				switch {
				case inFile && !generated:
					t.Errorf("section %q is in the file but was not generated (have sections %v)", name, keys(have))
				case generated && !inFile:
					t.Errorf("section %q was generated but is not in the file (run go test ./onnxgen -update):\n%s", name, got)
				case got != want:
					t.Errorf("section %q differs (-want +have):\n%s\nhave:\n%s\nwant:\n%s", name, cmp.Diff(want, got), got, want)
				}
			}
			for name, m := range models {
				checkModel(t, name, m)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// writeGolden rewrites the generated sections of c's file, keeping the
// comment, the arch and every section it does not generate, in place.
func writeGolden(t *testing.T, c *goldenCase, have map[string]string, known map[string]bool) {
	t.Helper()
	ar := &txtar.Archive{Comment: c.ar.Comment}
	ar.Files = append(ar.Files, txtar.File{Name: "arch", Data: []byte(c.arch + "\n")})
	for _, s := range goldenSections {
		if d, ok := have[s.name]; ok {
			ar.Files = append(ar.Files, txtar.File{Name: s.name, Data: []byte(d)})
		}
	}
	if e, ok := have["error"]; ok {
		ar.Files = append(ar.Files, txtar.File{Name: "error", Data: []byte(e)})
	}
	for _, f := range c.ar.Files {
		if !known[f.Name] {
			ar.Files = append(ar.Files, f)
		}
	}
	if err := os.WriteFile(c.file, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkModel checks what equality cannot: every value is defined once and
// before use, marshalling is deterministic, and Text is a fixed point of a
// marshal/unmarshal round trip.
func checkModel(t *testing.T, name string, m *onnxpb.ModelProto) {
	t.Helper()
	if err := graph.CheckOrder(m.GetGraph()); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	opt := proto.MarshalOptions{Deterministic: true}
	b1, err1 := opt.Marshal(m)
	b2, err2 := opt.Marshal(m)
	if err1 != nil || err2 != nil || !bytes.Equal(b1, b2) {
		t.Errorf("%s: marshal is not deterministic (%v, %v)", name, err1, err2)
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(b1, &back); err != nil {
		t.Fatalf("%s: unmarshal: %v", name, err)
	}
	if d := cmp.Diff(graph.Text(m), graph.Text(&back)); d != "" {
		t.Errorf("%s: Text changes through marshal/unmarshal (-before +after):\n%s", name, d)
	}
}
