package child

import (
	"strings"
	"testing"
)

// net is a well-formed two-parameter child: image and label in, lr, the
// weight with a momentum buffer, the bias without; loss and correct out.
func net() Net {
	f := func(name string, shape ...int64) Tensor { return Tensor{Name: name, Type: Float32, Shape: shape} }
	i := func(name string, shape ...int64) Tensor { return Tensor{Name: name, Type: Int64, Shape: shape} }
	return Net{
		Train: Graph{Model: []byte{1},
			Inputs:  []Tensor{f("image", -1, 4), i("label", -1), f("lr", 1), f("w", 3, 4), f("b", 3), f("w.mom", 3, 4)},
			Outputs: []Tensor{f("loss", 1), i("correct", 1), f("w.next", 3, 4), f("b.next", 3), f("w.mom.next", 3, 4)}},
		Eval: Graph{Model: []byte{1},
			Inputs:  []Tensor{f("image", -1, 4), i("label", -1), f("w", 3, 4), f("b", 3)},
			Outputs: []Tensor{f("loss", 1), i("correct", 1)}},
		Params: []Param{{Name: "w", Shape: []int64{3, 4}, Data: make([]float32, 12)}, {Name: "b", Shape: []int64{3}, Data: make([]float32, 3)}},
		Batch:  []string{"image", "label"},
		LR:     "lr",
		State: []State{{Input: "w", Output: "w.next", Param: 0}, {Input: "b", Output: "b.next", Param: 1},
			{Input: "w.mom", Output: "w.mom.next", Param: -1}},
		Metrics: []Metric{{Name: "loss", Reduce: Mean, Finite: true}, {Name: "correct", Reduce: Sum}},
	}
}

// recurrent gives n a hidden state h [4, 3] carried through both graphs.
func recurrent(n *Net) {
	h := func(name string) Tensor { return Tensor{Name: name, Type: Float32, Shape: []int64{4, 3}} }
	n.Train.Inputs = append(n.Train.Inputs, h("h"))
	n.Train.Outputs = append(n.Train.Outputs, h("h.next"))
	n.State = append(n.State, State{Input: "h", Output: "h.next", Param: -1, Reset: true})
	n.Eval.Inputs = append(n.Eval.Inputs, h("h"))
	n.Eval.Outputs = append(n.Eval.Outputs, h("h.next"))
	n.EvalState = []State{{Input: "h", Output: "h.next", Param: -1}}
	n.Sequential = true
}

// steps gives n a K-step graph: the training graph's signature with
// StepDim before the batch inputs', the learning rate's and the metrics'
// shapes.
func steps(n *Net) {
	per := map[string]bool{"image": true, "label": true, "lr": true, "loss": true, "correct": true}
	lead := func(ts []Tensor) []Tensor {
		out := make([]Tensor, len(ts))
		for i, t := range ts {
			out[i] = Tensor{Name: t.Name, Type: t.Type, Shape: append([]int64(nil), t.Shape...)}
			if per[t.Name] {
				out[i].Shape = append([]int64{StepDim}, t.Shape...)
			}
		}
		return out
	}
	n.Steps = Graph{Model: []byte{1}, Inputs: lead(n.Train.Inputs), Outputs: lead(n.Train.Outputs)}
}

// TestValidate: one case per rule of Net.Validate.
func TestValidate(t *testing.T) {
	cases := []struct {
		why  string
		edit func(*Net)
		want string // "" valid
	}{
		{"the well-formed child", func(*Net) {}, ""},
		{"no training graph", func(n *Net) { n.Train.Model = nil }, "no training graph"},
		{"no evaluation graph", func(n *Net) { n.Eval.Model = nil }, "no evaluation graph"},
		{"no parameters", func(n *Net) { n.Params = nil }, "no parameters"},
		{"a parameter with too few values", func(n *Net) { n.Params[1].Data = n.Params[1].Data[:2] }, "needs 3 values, have 2"},
		{"two parameters of one name", func(n *Net) { n.Params[1].Name = "w" }, "duplicate name"},
		{"a batch input the graph lacks", func(n *Net) { n.Batch = []string{"image", "labels"} }, `"labels" is not an input of the training graph`},
		{"a batch input the evaluation graph lacks", func(n *Net) { n.Eval.Inputs = n.Eval.Inputs[:1] }, `batch input "label" is not an input of the evaluation graph`},
		{"an input with two roles", func(n *Net) { n.LR = "label" }, "is both"},
		{"an input with no role", func(n *Net) { n.LR = "" }, `training input "lr" has no role`},
		{"a state without its output", func(n *Net) { n.State[2].Output = "w.mom.out" }, `"w.mom.out" is not an output`},
		{"a state whose output has another shape", func(n *Net) { n.Train.Outputs[4].Shape = []int64{4, 3} }, "differ"},
		{"a state starting from a parameter of another shape", func(n *Net) { n.State[0].Param = 1 }, "parameter b has"},
		{"a state naming a parameter that does not exist", func(n *Net) { n.State[2].Param = 7 }, "parameter 7 of 2"},
		{"a parameter the evaluation graph lacks", func(n *Net) { n.Eval.Inputs = n.Eval.Inputs[:3] }, `parameter "b" is not an input of the evaluation graph`},
		{"a metric one graph lacks", func(n *Net) { n.Eval.Outputs = n.Eval.Outputs[:1] }, `metric "correct" is not an output of the evaluation graph`},
		{"a metric that is not a scalar", func(n *Net) { n.Train.Outputs[0].Shape = []int64{-1} }, "want [1]"},
		{"a metric without a reduction", func(n *Net) { n.Metrics[1].Reduce = 0 }, "no reduction"},
		{"a reset state starting from a parameter", func(n *Net) { n.State[0].Reset = true }, "must start at zero"},
		{"a reset momentum buffer", func(n *Net) { n.State[2].Reset = true }, ""},
		{"the recurrent child", recurrent, ""},
		{"an evaluation state the graph lacks", func(n *Net) { recurrent(n); n.EvalState[0].Input = "hx" }, `"hx" is not an input of the evaluation graph`},
		{"an evaluation state without its output", func(n *Net) { recurrent(n); n.EvalState[0].Output = "hx" }, `"hx" is not an output of the evaluation graph`},
		{"an evaluation state that is a parameter", func(n *Net) { recurrent(n); n.EvalState[0].Input = "w" }, "is a state and a batch input or parameter"},
		{"an evaluation state of another shape", func(n *Net) { recurrent(n); n.Eval.Outputs[2].Shape = []int64{3, 4} }, "want float32 and one shape"},
		{"an evaluation state from a parameter", func(n *Net) { recurrent(n); n.EvalState[0].Param = 0 }, "starts at zero every pass"},
		{"evaluation states of two batch sizes", func(n *Net) {
			recurrent(n)
			n.Eval.Inputs = append(n.Eval.Inputs, Tensor{Name: "c", Type: Float32, Shape: []int64{2, 3}})
			n.Eval.Outputs = append(n.Eval.Outputs, Tensor{Name: "c.next", Type: Float32, Shape: []int64{2, 3}})
			n.EvalState = append(n.EvalState, State{Input: "c", Output: "c.next", Param: -1})
		}, "first dimension 2, another state's is 4"},
	}
	cases = append(cases, []struct {
		why  string
		edit func(*Net)
		want string
	}{
		{"a K-step graph", steps, ""},
		{"a K-step signature without its graph", func(n *Net) { steps(n); n.Steps.Model = nil }, "without a graph"},
		{"a K-step batch input without the steps dimension", func(n *Net) { steps(n); n.Steps.Inputs[0].Shape = []int64{-1, 4} }, "K-step graph: input 0"},
		{"a K-step state with the steps dimension", func(n *Net) { steps(n); n.Steps.Inputs[3].Shape = []int64{StepDim, 3, 4} }, "K-step graph: input 3"},
		{"a K-step metric without it", func(n *Net) { steps(n); n.Steps.Outputs[0].Shape = []int64{1} }, "K-step graph: output 0"},
		{"a K-step graph missing an output", func(n *Net) { steps(n); n.Steps.Outputs = n.Steps.Outputs[:4] }, "4 outputs, the training graph has 5"},
		{"a K-step input out of order", func(n *Net) {
			steps(n)
			n.Steps.Inputs[4], n.Steps.Inputs[5] = n.Steps.Inputs[5], n.Steps.Inputs[4]
		}, "K-step graph: input 4"},
	}...)
	for _, c := range cases {
		n := net()
		c.edit(&n)
		err := n.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "child: ")) {
			t.Errorf("%s: Validate() = %v, want %q", c.why, err, c.want)
		}
	}
}

// TestSizes: element counts and the floats a runner allocates.
func TestSizes(t *testing.T) {
	for _, c := range []struct {
		shape []int64
		want  int
	}{{nil, 1}, {[]int64{1}, 1}, {[]int64{3, 4}, 12}, {[]int64{-1, 4}, -1}, {[]int64{0}, -1}, {[]int64{1 << 40, 1 << 40}, -1}} {
		if got := Elements(c.shape); got != c.want {
			t.Errorf("Elements(%v) = %d, want %d", c.shape, got, c.want)
		}
	}
	n := net()
	if got := n.ParamFloats(); got != 15 {
		t.Errorf("ParamFloats = %d, want 15", got)
	}
	if got := n.StateFloats(); got != 12 {
		t.Errorf("StateFloats = %d, want 12 (the momentum buffer; parameters start from their values)", got)
	}
}
