package runner_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// goldenCase is one compiling case of onnxgen/testdata: its architecture,
// input and classes, from the first comment line "input CxHxW classes K [bn]".
type goldenCase struct {
	name    string
	arch    onnxgen.Arch
	in      onnxgen.Input
	classes int
	bn      bool
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	files, err := filepath.Glob("../onnxgen/testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases in ../onnxgen/testdata (%v)", err)
	}
	var cases []goldenCase
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sections := map[string]string{}
		for _, s := range ar.Files {
			sections[s.Name] = string(s.Data)
		}
		if _, isErr := sections["error"]; isErr {
			continue
		}
		c := goldenCase{name: strings.TrimSuffix(filepath.Base(f), ".txtar")}
		head, _, _ := strings.Cut(string(ar.Comment), "\n")
		var bn string
		n, _ := fmt.Sscanf(head+" -", "input %dx%dx%d classes %d %s", &c.in.C, &c.in.H, &c.in.W, &c.classes, &bn)
		if n < 4 {
			t.Fatalf("%s: first comment line %q, want \"input CxHxW classes K [bn]\"", f, head)
		}
		c.bn = bn == "bn"
		if c.arch, err = onnxgen.Parse(strings.TrimSpace(sections["arch"])); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestGoldenModelsRun: ONNX Runtime loads and runs every compiling golden
// model of onnxgen on a batch of 3, giving finite [3,classes] logits; and
// onnx-go's pure-Go gorgonia backend gives the same logits within 1e-4 where
// it supports every op of the model. Where it doesn't, the test says which op
// and why (onnx-go v0.5.0 has no Pad, which every zero-padded concatenation
// uses, nor BatchNormalization with its running statistics in some cases).
func TestGoldenModelsRun(t *testing.T) {
	rt := newRuntime(t)
	compared := 0
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			m, err := onnxgen.Compile(c.arch, c.in, c.classes, onnxgen.Options{Seed: 1, BatchNorm: c.bn})
			if err != nil {
				t.Fatal(err)
			}
			model, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			image := make([]float32, 3*c.in.C*c.in.H*c.in.W)
			for i := range image {
				image[i] = float32(r.NormFloat64())
			}
			logits, shape, err := rt.Infer(model, onnxgen.InputImage, image, []int64{3, int64(c.in.C), int64(c.in.H), int64(c.in.W)}, "logits")
			if err != nil {
				t.Fatalf("ORT: %v", err)
			}
			if len(shape) != 2 || shape[0] != 3 || shape[1] != int64(c.classes) {
				t.Fatalf("ORT logits shape %v, want [3 %d]", shape, c.classes)
			}
			for i, v := range logits {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("ORT logit %d is %v", i, v)
				}
			}
			got, err := runGorgonnx(model, image, []int{3, c.in.C, c.in.H, c.in.W})
			if err != nil {
				if op, ok := unsupportedOp(err); ok {
					t.Logf("onnx-go cannot run this model: %s; compared with ORT only", op)
					return
				}
				t.Logf("onnx-go cannot run this model (%v); compared with ORT only", err)
				return
			}
			if len(got) != len(logits) {
				t.Fatalf("onnx-go gave %d logits, ORT %d", len(got), len(logits))
			}
			if d := maxAbsDiff(got, logits); d > 1e-4 {
				t.Errorf("onnx-go and ORT differ by %g (> 1e-4)\nonnx-go %v\nORT     %v", d, got, logits)
			}
			compared++
		})
	}
	if compared == 0 {
		t.Error("onnx-go ran none of the golden models: the cross-check compared nothing")
	}
	t.Logf("onnx-go agreed with ORT on %d golden models", compared)
}

// TestFoldedNormalisation: a model with the input normalisation folded in
// (onnxgen.Options.InputMean/InputStd) gives on raw pixels the logits the
// plain model gives on normalised ones, and carries its metadata.
func TestFoldedNormalisation(t *testing.T) {
	rt := newRuntime(t)
	a, err := onnxgen.Parse("kh3 kw3 f4 | kh3 kw3 sh2 sw2 f6 in0")
	if err != nil {
		t.Fatal(err)
	}
	in := onnxgen.Input{C: 3, H: 8, W: 8}
	mean, std := []float32{120, 60, 10}, []float32{50, 20, 4}
	plain, err := onnxgen.Compile(a, in, 5, onnxgen.Options{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	folded, err := onnxgen.Compile(a, in, 5, onnxgen.Options{Seed: 2, InputMean: mean, InputStd: std,
		Metadata: map[string]string{"nas.arch": onnxgen.Format(a)}})
	if err != nil {
		t.Fatal(err)
	}
	if md := folded.GetMetadataProps(); len(md) != 1 || md[0].GetKey() != "nas.arch" || md[0].GetValue() != onnxgen.Format(a) {
		t.Errorf("metadata_props %v, want nas.arch = %q", md, onnxgen.Format(a))
	}
	r := rand.New(rand.NewPCG(5, 6))
	raw := make([]float32, 2*3*8*8)
	norm := make([]float32, len(raw))
	for i := range raw {
		c := (i / 64) % 3
		raw[i] = float32(r.IntN(256))
		norm[i] = (raw[i] - mean[c]) / std[c]
	}
	shape := []int64{2, 3, 8, 8}
	run := func(m *onnxpb.ModelProto, x []float32) []float32 {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		y, _, err := rt.Infer(b, onnxgen.InputImage, x, shape, "logits")
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	want, got := run(plain, norm), run(folded, raw)
	if d := maxAbsDiff(got, want); d > 1e-5 {
		t.Errorf("folded model on raw pixels differs from the plain model on normalised ones by %g\ngot  %v\nwant %v", d, got, want)
	}
	// The exported form (normalisation folded in) is portable: onnx-go's
	// gorgonia backend agrees with ORT on it.
	b, err := proto.Marshal(folded)
	if err != nil {
		t.Fatal(err)
	}
	portable, err := runGorgonnx(b, raw, []int{2, 3, 8, 8})
	if err != nil {
		op, _ := unsupportedOp(err)
		t.Fatalf("onnx-go cannot run the exported form: %v %s", err, op)
	}
	if d := maxAbsDiff(portable, got); d > 1e-4 {
		t.Errorf("onnx-go and ORT differ by %g on the exported form", d)
	}
	if _, err := onnxgen.Compile(a, in, 5, onnxgen.Options{InputMean: mean[:2], InputStd: std[:2]}); err == nil {
		t.Error("Compile accepted 2 input means for 3 channels")
	}
}
