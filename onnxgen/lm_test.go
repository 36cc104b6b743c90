package onnxgen

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

func cn(c Comb, a Act) CellNode { return CellNode{Comb: c, Act: a} }

// lmLSTM is the exact LSTM as a base-8 cell: h = tanh(i⊙g + f⊙c)⊙o.
func lmLSTM() Cell {
	a, m := CombAdd, CombMul
	return Cell{Base: 8, Nodes: []CellNode{
		cn(a, ActSigmoid), cn(a, ActTanh), cn(a, ActIdentity), cn(a, ActIdentity), cn(a, ActIdentity), cn(a, ActIdentity), cn(a, ActIdentity), cn(a, ActIdentity),
		cn(m, ActIdentity), cn(a, ActSigmoid), cn(a, ActIdentity), cn(a, ActIdentity),
		cn(a, ActTanh), cn(a, ActSigmoid),
		cn(m, ActIdentity),
	}, Inject: cn(m, ActIdentity), InjectAt: 9, CellFrom: 12}
}

// lmNASCell is the cell of the paper (TensorFlow's NASCell).
func lmNASCell() Cell {
	a, m := CombAdd, CombMul
	return Cell{Base: 8, Nodes: []CellNode{
		cn(a, ActSigmoid), cn(a, ActReLU), cn(a, ActSigmoid), cn(m, ActReLU), cn(a, ActTanh), cn(a, ActSigmoid), cn(a, ActTanh), cn(a, ActSigmoid),
		cn(m, ActTanh), cn(a, ActTanh), cn(m, ActTanh), cn(a, ActSigmoid),
		cn(m, ActIdentity), cn(a, ActTanh),
		cn(m, ActTanh),
	}, Inject: cn(a, ActTanh), InjectAt: 8, CellFrom: 12}
}

// lmBase4 is a base-4 cell with mixed leaf combinations (the unfused
// leaves), mul and relu, injecting at a leaf.
func lmBase4() Cell {
	a, m := CombAdd, CombMul
	return Cell{Base: 4, Nodes: []CellNode{
		cn(m, ActReLU), cn(a, ActTanh), cn(a, ActSigmoid), cn(m, ActIdentity),
		cn(a, ActReLU), cn(m, ActSigmoid),
		cn(a, ActTanh),
	}, Inject: cn(m, ActReLU), InjectAt: 1, CellFrom: 5}
}

// lmBase2 is a base-2 cell whose leaves all multiply (fused mul), the
// memory taken from the node it is injected into.
func lmBase2() Cell {
	a, m := CombAdd, CombMul
	return Cell{Base: 2, Nodes: []CellNode{cn(m, ActTanh), cn(m, ActSigmoid), cn(a, ActReLU)},
		Inject: cn(a, ActIdentity), InjectAt: 0, CellFrom: 0}
}

var lmCells = []struct {
	name string
	cell Cell
}{{"lstm", lmLSTM()}, {"nascell", lmNASCell()}, {"base4", lmBase4()}, {"base2", lmBase2()}}

func TestLMOptionsValidate(t *testing.T) {
	ok := LMOptions{Vocab: 10, Hidden: 4, Steps: 3, Batch: 2}
	for _, c := range []struct {
		name string
		edit func(*LMOptions)
		want string // "" valid, else part of the error
	}{
		{"defaults", func(*LMOptions) {}, ""},
		{"two layers", func(o *LMOptions) { o.Layers = 2 }, ""},
		{"no clipping", func(o *LMOptions) { o.Clip = -1 }, ""},
		{"three layers", func(o *LMOptions) { o.Layers = 3 }, "layers 3"},
		{"one token type", func(o *LMOptions) { o.Vocab = 1 }, "vocabulary 1"},
		{"no hidden size", func(o *LMOptions) { o.Hidden = 0 }, "embedding size 0"}, // Embed defaults to Hidden
		{"no steps", func(o *LMOptions) { o.Steps = 0 }, "steps 0"},
		{"no batch", func(o *LMOptions) { o.Batch = 0 }, "batch 0"},
		{"negative eval batch", func(o *LMOptions) { o.EvalBatch = -1 }, "evaluation batch -1"},
		{"negative init scale", func(o *LMOptions) { o.InitScale = -0.1 }, "init scale"},
		{"NaN clip", func(o *LMOptions) { o.Clip = float32(math.NaN()) }, "clip"},
		{"scan", func(o *LMOptions) { o.Form = LMScan }, ""},
		{"unknown form", func(o *LMOptions) { o.Form = numLMForms }, "form"},
	} {
		o := ok
		c.edit(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

func TestLMDefaults(t *testing.T) {
	o := LMOptions{Vocab: 10, Hidden: 4, Steps: 3, Batch: 2}.withDefaults()
	want := LMOptions{Vocab: 10, Embed: 4, Hidden: 4, Layers: 1, Steps: 3, Batch: 2, EvalBatch: 2, Clip: 5, InitScale: 0.1}
	if o != want {
		t.Errorf("defaults %+v, want %+v", o, want)
	}
}

func TestLMCheckCell(t *testing.T) {
	bad := lmLSTM()
	bad.InjectAt = 15
	short := lmLSTM()
	short.Nodes = short.Nodes[:14]
	odd := lmBase2()
	odd.Base = 3
	act := lmBase2()
	act.Nodes[1].Act = numActs
	for _, c := range []Cell{bad, short, odd, act} {
		if _, err := CompileLM(c, LMOptions{Vocab: 4, Hidden: 2, Steps: 2, Batch: 1}); err == nil {
			t.Errorf("cell %+v compiles", c)
		}
	}
}

// TestCompileLM: every cell at one and two layers, one step and several,
// gives a child the contract accepts, with the parameters of LMCost, the
// states and roles the runner binds.
func TestCompileLM(t *testing.T) {
	for _, c := range lmCells {
		for _, o := range []LMOptions{
			{Vocab: 7, Hidden: 3, Steps: 4, Batch: 2, Seed: 1, Form: LMUnrolled},
			{Vocab: 7, Embed: 5, Hidden: 3, Layers: 2, Steps: 1, Batch: 3, EvalBatch: 2, Seed: 1, Form: LMUnrolled},
			{Vocab: 7, Hidden: 3, Steps: 4, Batch: 2, Seed: 1},
			{Vocab: 7, Embed: 5, Hidden: 3, Layers: 2, Steps: 3, Batch: 3, EvalBatch: 2, Seed: 1, Form: LMScan},
		} {
			t.Run(fmt.Sprintf("%s/layers%d_steps%d_form%d", c.name, o.Layers, o.Steps, o.Form), func(t *testing.T) {
				n, err := CompileLM(c.cell, o)
				if err != nil {
					t.Fatal(err)
				}
				o = o.withDefaults()
				params, _ := LMCost(c.cell, o)
				if n.ParamFloats() != params {
					t.Errorf("%d parameter values, LMCost says %d", n.ParamFloats(), params)
				}
				if !n.Sequential || len(n.EvalState) != 2*o.Layers || n.EvalBatch() != o.EvalBatch {
					t.Errorf("sequential %v, %d evaluation states of batch %d", n.Sequential, len(n.EvalState), n.EvalBatch())
				}
				resets := 0
				for _, s := range n.State {
					if s.Reset {
						resets++
					}
				}
				if resets != 2*o.Layers || len(n.State) != len(n.Params)+2*o.Layers {
					t.Errorf("%d states, %d reset", len(n.State), resets)
				}
				tok, _ := n.Train.Input(InputTokens)
				if tok.Type != child.Int64 || tok.Shape[0] != int64(o.Batch) || tok.Shape[1] != int64(o.Steps) {
					t.Errorf("tokens %v %v", tok.Type, tok.Shape)
				}
				again, _ := CompileLM(c.cell, o)
				if string(again.Train.Model) != string(n.Train.Model) || string(again.Eval.Model) != string(n.Eval.Model) {
					t.Error("two compilations differ")
				}
				for _, g := range []child.Graph{n.Train, n.Eval} {
					var m onnxpb.ModelProto
					if err := proto.Unmarshal(g.Model, &m); err != nil {
						t.Fatal(err)
					}
					checkModel(t, m.GetGraph().GetName(), &m)
				}
			})
		}
	}
}

func TestLMInitParams(t *testing.T) {
	o := LMOptions{Vocab: 50, Hidden: 8, Steps: 2, Batch: 1, InitScale: 0.05, Seed: 3}
	a, _ := LMInitParams(lmNASCell(), o)
	b, _ := LMInitParams(lmNASCell(), o)
	o.Seed = 4
	other, _ := LMInitParams(lmNASCell(), o)
	for i, p := range a {
		lo, hi := float32(1), float32(-1)
		for k, v := range p.Data {
			lo, hi = min(lo, v), max(hi, v)
			if v != b[i].Data[k] {
				t.Fatalf("%s: one seed, two values", p.Name)
			}
		}
		if lo < -0.05 || hi > 0.05 || hi-lo < 0.05 {
			t.Errorf("%s in [%g, %g], want spread over (−0.05, 0.05)", p.Name, lo, hi)
		}
		if p.Data[0] == other[i].Data[0] {
			t.Errorf("%s: seeds 3 and 4 agree", p.Name)
		}
	}
}

func TestLMCost(t *testing.T) {
	// The LSTM at V 10, E = H 4, base 8: emb 40; W, U 4·32 each, b 32;
	// out 40 + 10. MACs per token: 128 + 128 + 40.
	p, m := LMCost(lmLSTM(), LMOptions{Vocab: 10, Hidden: 4, Steps: 3, Batch: 2})
	if p != 40+128+128+32+40+10 || m != 128+128+40 {
		t.Errorf("LMCost = %d, %d", p, m)
	}
	if p, m := LMCost(lmLSTM(), LMOptions{}); p != 0 || m != 0 {
		t.Errorf("invalid options: %d, %d", p, m)
	}
}

// TestLMChecker runs the ONNX checker (full_check) on the training,
// evaluation and inference graphs of every test cell, in both forms.
func TestLMChecker(t *testing.T) {
	if out, err := exec.Command(checkerPython, "-c", "import onnx").CombinedOutput(); err != nil {
		t.Fatalf("%s with the onnx module is needed (run `make test-deps`): %v\n%s", checkerPython, err, out)
	}
	dir := t.TempDir()
	var files []string
	write := func(name string, b []byte) {
		p := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	for _, c := range lmCells {
		for _, o := range []LMOptions{
			{Vocab: 7, Hidden: 3, Steps: 4, Batch: 2, Form: LMUnrolled},
			{Vocab: 7, Embed: 5, Hidden: 3, Layers: 2, Steps: 1, Batch: 3, Clip: -1, Form: LMUnrolled},
			{Vocab: 7, Hidden: 3, Steps: 4, Batch: 2},
			{Vocab: 7, Embed: 5, Hidden: 3, Layers: 2, Steps: 2, Batch: 3, Clip: -1, Form: LMScan},
		} {
			n, err := CompileLM(c.cell, o)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s_l%d_t%d_f%d", c.name, max(o.Layers, 1), o.Steps, o.Form)
			write(name+".train", n.Train.Model)
			write(name+".eval", n.Eval.Model)
			{
				inf, err := LMInference(c.cell, o, n.Params, []string{"a", "b", "c", "d", "e", "f", "g"})
				if err != nil {
					t.Fatal(err)
				}
				write(name+".infer", inf)
			}
		}
	}
	out, err := exec.Command(checkerPython, append([]string{"-c", checkerScript}, files...)...).CombinedOutput()
	if err != nil {
		t.Errorf("onnx checker: %v\n%s", err, out)
	}
}

// TestLMActivationFloats: in the Scan form, the count is what the forward
// Scan stacks (its body's outputs after the two states) plus the input
// projection, per step and layer, and the embedding and logits per step.
func TestLMActivationFloats(t *testing.T) {
	for _, c := range lmCells {
		o := LMOptions{Vocab: 7, Hidden: 3, Layers: 2, Steps: 4, Batch: 2}.withDefaults()
		n, err := CompileLM(c.cell, o)
		if err != nil {
			t.Fatal(err)
		}
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(n.Train.Model, &m); err != nil {
			t.Fatal(err)
		}
		var stacked int64 // per step, all layers
		for _, nd := range m.GetGraph().GetNode() {
			if nd.GetOpType() != "Scan" || !strings.HasSuffix(nd.GetName(), "h.last") {
				continue
			}
			for _, v := range nd.GetAttribute()[0].GetG().GetOutput()[2:] {
				e := int64(1)
				for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
					e *= d.GetDimValue()
				}
				stacked += e / int64(o.Batch)
			}
			stacked += int64(c.cell.Base * o.Hidden)
		}
		want := int64(o.Steps) * (stacked + int64(o.Embed) + 2*int64(o.Vocab))
		if n.ActivationFloats != want {
			t.Errorf("%s: ActivationFloats %d, the graph keeps %d", c.name, n.ActivationFloats, want)
		}
	}
}

// TestLMTestCells: the tests' literals of the named cells are CellByName's.
func TestLMTestCells(t *testing.T) {
	for _, c := range lmCells[:2] {
		named, ok := CellByName(c.name)
		if !ok || named.String() != c.cell.String() {
			t.Errorf("%s: the test's literal %s, CellByName's %s", c.name, c.cell, named)
		}
	}
}
