package gradcheck

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen"
)

func cn(c onnxgen.Comb, a onnxgen.Act) onnxgen.CellNode { return onnxgen.CellNode{Comb: c, Act: a} }

const (
	add, mul                   = onnxgen.CombAdd, onnxgen.CombMul
	ident, tanh, sigmoid, relu = onnxgen.ActIdentity, onnxgen.ActTanh, onnxgen.ActSigmoid, onnxgen.ActReLU
)

// lstmCell is the exact LSTM as a base-8 cell: h = tanh(i⊙g + f⊙c)⊙o.
func lstmCell() onnxgen.Cell {
	return onnxgen.Cell{Base: 8, Nodes: []onnxgen.CellNode{
		cn(add, sigmoid), cn(add, tanh), cn(add, ident), cn(add, ident), cn(add, ident), cn(add, ident), cn(add, ident), cn(add, ident),
		cn(mul, ident), cn(add, sigmoid), cn(add, ident), cn(add, ident),
		cn(add, tanh), cn(add, sigmoid),
		cn(mul, ident),
	}, Inject: cn(mul, ident), InjectAt: 9, CellFrom: 12}
}

// nasCell is the paper's cell (TensorFlow's NASCell).
func nasCell() onnxgen.Cell {
	return onnxgen.Cell{Base: 8, Nodes: []onnxgen.CellNode{
		cn(add, sigmoid), cn(add, relu), cn(add, sigmoid), cn(mul, relu), cn(add, tanh), cn(add, sigmoid), cn(add, tanh), cn(add, sigmoid),
		cn(mul, tanh), cn(add, tanh), cn(mul, tanh), cn(add, sigmoid),
		cn(mul, ident), cn(add, tanh),
		cn(mul, tanh),
	}, Inject: cn(add, tanh), InjectAt: 8, CellFrom: 12}
}

// base4Cell mixes the leaves' combinations (each leaf its own op), uses
// mul and relu, and injects at a leaf (relu after a mul).
func base4Cell() onnxgen.Cell {
	return onnxgen.Cell{Base: 4, Nodes: []onnxgen.CellNode{
		cn(mul, relu), cn(add, tanh), cn(add, sigmoid), cn(mul, ident),
		cn(add, relu), cn(mul, sigmoid),
		cn(add, tanh),
	}, Inject: cn(mul, relu), InjectAt: 1, CellFrom: 5}
}

// base2Cell: every leaf multiplies (one fused Mul), the memory is the
// pre-activation of the leaf that receives it.
func base2Cell() onnxgen.Cell {
	return onnxgen.Cell{Base: 2, Nodes: []onnxgen.CellNode{cn(mul, tanh), cn(mul, sigmoid), cn(add, relu)},
		Inject: cn(add, ident), InjectAt: 0, CellFrom: 0}
}

// lmSpec is what testdata/torch_lm.py knows of a model and a step.
type lmSpec struct {
	Vocab  int         `json:"vocab"`
	Embed  int         `json:"embed"`
	Hidden int         `json:"hidden"`
	Layers int         `json:"layers"`
	Steps  int         `json:"steps"`
	Batch  int         `json:"batch"`
	Cell   lmSpecCell  `json:"cell"`
	LR     float64     `json:"lr"`
	Clip   float64     `json:"clip"`
	Params []specParam `json:"params"`
	LSTM   bool        `json:"lstm"`
}

type lmSpecCell struct {
	Base     int      `json:"base"`
	Nodes    [][2]int `json:"nodes"`
	Inject   [2]int   `json:"inject"`
	InjectAt int      `json:"inject_at"`
	CellFrom int      `json:"cell_from"`
}

func specCell(c onnxgen.Cell) lmSpecCell {
	s := lmSpecCell{Base: c.Base, Inject: [2]int{int(c.Inject.Comb), int(c.Inject.Act)}, InjectAt: c.InjectAt, CellFrom: c.CellFrom}
	for _, n := range c.Nodes {
		s.Nodes = append(s.Nodes, [2]int{int(n.Comb), int(n.Act)})
	}
	return s
}

// pythonCmd runs Debian's python (with python3-torch and python3-onnx).
func pythonCmd(args ...string) *exec.Cmd { return exec.Command("/usr/bin/python3", args...) }

type lmTorchResult struct {
	Loss     float64  `json:"loss"`
	Norm     float64  `json:"norm"`
	LSTMDiff *float64 `json:"lstm_diff"`
	Params   []float64
	State    []float64
}

func runTorchLM(t *testing.T, s lmSpec, params []float32, tokens, targets []int64, state []float32) lmTorchResult {
	t.Helper()
	dir := t.TempDir()
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, filepath.Join(dir, "params.f32"), params)
	writeRaw(t, filepath.Join(dir, "tokens.i64"), tokens)
	writeRaw(t, filepath.Join(dir, "targets.i64"), targets)
	writeRaw(t, filepath.Join(dir, "state.f32"), state)
	out, err := pythonCmd(filepath.Join("testdata", "torch_lm.py"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gradcheck: torch_lm.py: %v\n%s", err, out)
	}
	var r lmTorchResult
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	r.Params = readF64(t, filepath.Join(dir, "params.f64"))
	r.State = readF64(t, filepath.Join(dir, "state.f64"))
	return r
}

// lmCase is one training step checked against PyTorch.
type lmCase struct {
	name string
	cell onnxgen.Cell
	o    onnxgen.LMOptions
	lr   float32
	// clipped: the gradient's norm must exceed the clip (else stay below).
	clipped bool
}

// lmFeeds draws a batch and nonzero incoming states (so carrying them is
// checked) and returns the training graph's feeds in its input order.
func lmFeeds(t *testing.T, n child.Net, o onnxgen.LMOptions, rows int, lr float32, params []child.Param, seed uint64, train bool) ([]feed, []int64, []int64, []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	g := n.Eval
	if train {
		g = n.Train
	}
	tokens := make([]int64, rows*o.Steps)
	targets := make([]int64, rows*o.Steps)
	for i := range tokens {
		tokens[i] = int64(rng.IntN(o.Vocab))
		targets[i] = int64(rng.IntN(o.Vocab))
	}
	byName := map[string]child.Param{}
	for _, p := range params {
		byName[p.Name] = p
	}
	var state []float32
	var feeds []feed
	for _, in := range g.Inputs {
		f := feed{name: in.Name, shape: in.Shape}
		switch {
		case in.Name == onnxgen.InputTokens:
			f.i64 = tokens
		case in.Name == onnxgen.InputTargets:
			f.i64 = targets
		case in.Name == onnxgen.InputLR:
			f.f32 = []float32{lr}
		default:
			if p, ok := byName[in.Name]; ok {
				f.f32 = p.Data
				break
			}
			f.f32 = make([]float32, child.Elements(in.Shape))
			for i := range f.f32 {
				f.f32[i] = float32(rng.Float64() - 0.5)
			}
			state = append(state, f.f32...)
		}
		feeds = append(feeds, f)
	}
	return feeds, tokens, targets, state
}

func outputNames(g child.Graph) []string {
	var s []string
	for _, t := range g.Outputs {
		s = append(s, t.Name)
	}
	return s
}

func inputNames(g child.Graph) []string {
	var s []string
	for _, t := range g.Inputs {
		s = append(s, t.Name)
	}
	return s
}

// TestLMStepMatchesTorch: one training step (forward, loss, BPTT over the
// window, global-norm clipping, SGD) of the compiled LM, run by ORT, against
// testdata/torch_lm.py (autograd + clip_grad_norm_ + SGD in float64) for
// the LSTM, the NASCell, a base-4 cell with mixed leaves, mul, relu and the
// inject at a leaf, and a base-2 cell of multiplying leaves; clipping on and
// off; one and two layers; one step and 35 (three token types over 35·32
// positions: the embedding gradient's scatter-add with repeated rows); each
// case in both forms of the recurrence (unrolled, Scan). Per parameter,
// max |p_onnx − p_torch| ≤ 1e-4·max |p_torch − p_init| (the update's
// relative error); the loss and the carried states to 1e-5 relative. The LSTM's forward is also checked
// against torch.nn.LSTM with the weights mapped to its gates.
func TestLMStepMatchesTorch(t *testing.T) {
	cases := []lmCase{
		{"lstm_clipped", lstmCell(), onnxgen.LMOptions{Vocab: 11, Embed: 5, Hidden: 4, Steps: 5, Batch: 3, Clip: 0.05, Seed: 1}, 10, true},
		{"lstm_unclipped", lstmCell(), onnxgen.LMOptions{Vocab: 11, Embed: 5, Hidden: 4, Steps: 5, Batch: 3, Clip: 100, Seed: 2}, 2, false},
		{"lstm_2layers", lstmCell(), onnxgen.LMOptions{Vocab: 7, Hidden: 4, Layers: 2, Steps: 4, Batch: 2, Clip: 0.05, Seed: 3}, 10, true},
		{"nascell_clipped", nasCell(), onnxgen.LMOptions{Vocab: 9, Embed: 6, Hidden: 5, Steps: 6, Batch: 3, Clip: 0.05, Seed: 4}, 10, true},
		{"nascell_unclipped", nasCell(), onnxgen.LMOptions{Vocab: 9, Embed: 6, Hidden: 5, Steps: 6, Batch: 3, Clip: 100, Seed: 5}, 2, false},
		{"nascell_2layers_noclip", nasCell(), onnxgen.LMOptions{Vocab: 6, Hidden: 3, Layers: 2, Steps: 3, Batch: 2, Clip: -1, Seed: 6}, 100, false},
		{"base4_clipped", base4Cell(), onnxgen.LMOptions{Vocab: 8, Hidden: 4, Steps: 5, Batch: 4, Clip: 0.05, InitScale: 0.5, Seed: 7}, 10, true},
		{"base4_unclipped", base4Cell(), onnxgen.LMOptions{Vocab: 8, Hidden: 4, Steps: 5, Batch: 4, Clip: 100, InitScale: 0.5, Seed: 8}, 2, false},
		{"base2_2layers", base2Cell(), onnxgen.LMOptions{Vocab: 5, Embed: 3, Hidden: 4, Layers: 2, Steps: 4, Batch: 3, Clip: 0.05, InitScale: 0.5, Seed: 9}, 10, true},
		// Three token types over 35·32 positions: every embedding row's
		// gradient sums hundreds of rows (ScatterElements(add) with 2
		// threads; ScatterND(add) gets this wrong).
		{"lstm_repeated_tokens", lstmCell(), onnxgen.LMOptions{Vocab: 3, Embed: 64, Hidden: 16, Steps: 35, Batch: 32, Clip: 100, Seed: 11}, 2, false},
		{"base2_one_step", base2Cell(), onnxgen.LMOptions{Vocab: 5, Hidden: 4, Steps: 1, Batch: 2, Clip: 100, InitScale: 0.5, Seed: 10}, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := onnxgen.CompileLM(c.cell, c.o)
			if err != nil {
				t.Fatal(err)
			}
			feeds, tokens, targets, state := lmFeeds(t, n, c.o, c.o.Batch, c.lr, n.Params, c.o.Seed, true)
			o := c.o
			if o.Embed == 0 {
				o.Embed = o.Hidden
			}
			if o.Layers == 0 {
				o.Layers = 1
			}
			sp := lmSpec{Vocab: o.Vocab, Embed: o.Embed, Hidden: o.Hidden, Layers: o.Layers, Steps: o.Steps, Batch: o.Batch,
				Cell: specCell(c.cell), LR: float64(c.lr), Clip: float64(o.Clip), LSTM: c.name[:4] == "lstm"}
			var flat []float32
			for _, p := range n.Params {
				sp.Params = append(sp.Params, specParam{Name: p.Name, Shape: p.Shape})
				flat = append(flat, p.Data...)
			}
			want := runTorchLM(t, sp, flat, tokens, targets, state)
			if c.clipped != (want.Norm > float64(o.Clip) && o.Clip > 0) {
				t.Fatalf("gradient norm %g, clip %g: want clipping %v", want.Norm, o.Clip, c.clipped)
			}
			if sp.LSTM {
				if want.LSTMDiff == nil || *want.LSTMDiff > 1e-12 {
					t.Errorf("the cell language's LSTM differs from torch.nn.LSTM by %v", want.LSTMDiff)
				}
			}
			for _, form := range []onnxgen.LMForm{onnxgen.LMUnrolled, onnxgen.LMScan} {
				fo := c.o
				fo.Form = form
				n, err := onnxgen.CompileLM(c.cell, fo)
				if err != nil {
					t.Fatal(err)
				}
				got := newSession(t, n.Train.Model, inputNames(n.Train), outputNames(n.Train)).run(t, feeds)
				t.Run(fmt.Sprintf("form%d", form), func(t *testing.T) { compareLMStep(t, n, o, got, want) })
			}
		})
	}
}

// compareLMStep compares one training step's outputs with torch's.
func compareLMStep(t *testing.T, n child.Net, o onnxgen.LMOptions, got result, want lmTorchResult) {
	loss := float64(got.f32[onnxgen.MetricLoss][0])
	if math.Abs(loss-want.Loss) > 1e-5*math.Abs(want.Loss) {
		t.Errorf("loss %v, torch %v", loss, want.Loss)
	}
	off := 0
	for _, p := range n.Params {
		next := got.f32[p.Name+".next"]
		var diff, upd float64
		for i, v := range next {
			w := want.Params[off+i]
			diff = max(diff, math.Abs(float64(v)-w))
			upd = max(upd, math.Abs(w-float64(p.Data[i])))
		}
		off += len(next)
		if diff > 1e-4*upd {
			t.Errorf("%s: max |onnx − torch| %.3g, update %.3g: relative %.3g > 1e-4", p.Name, diff, upd, diff/upd)
		} else {
			t.Logf("%s: relative error of the update %.2g (update %.2g)", p.Name, diff/upd, upd)
		}
	}
	off = 0
	for l := range o.Layers {
		for _, k := range []string{"h", "c"} {
			name := fmt.Sprintf("l%d.%s.next", l, k)
			v := got.f32[name]
			for i := range v {
				w := want.State[off+i]
				if math.Abs(float64(v[i])-w) > 1e-5*max(1, math.Abs(w)) {
					t.Errorf("%s[%d] = %v, torch %v", name, i, v[i], w)
					break
				}
			}
			off += len(v)
		}
	}
}
