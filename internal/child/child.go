// Package child is the contract between a compiler of child networks
// (onnxgen) and the runtime that trains them (runner): plain data, produced
// once by the compiler and bound by the runner, so neither re-derives what the
// other wrote. It imports nothing.
//
// A Net is a child ready to train: the serialized training-step and
// evaluation graphs, the name, element type and shape of every input and
// output of each, and the roles those tensors play:
//
//   - Batch inputs are filled from a data source before every step, one
//     example per row (their first dimension is the batch, Dim -1 = N).
//   - The learning-rate input (LR, float[1]) is set by the runner's schedule.
//   - State pairs name a training-graph output whose value is the same-named
//     input of the next step: every parameter p (p → p.next, starting from
//     Params), every optimizer buffer (zeros, the shape of its parameter), and
//     any tensor carried between batches (an LM's h and c).
//   - Metrics are scalar outputs (shape [1]) the runner accumulates over a
//     pass: a batch mean (weighted by the batch size) or a count (summed).
//
// The evaluation graph takes the batch inputs and every parameter, under the
// parameters' own names, and writes the metrics.
//
// The optional K-step graph (Net.Steps) makes several training steps per
// run: its inputs and outputs are the training graph's, under the same
// names and roles, except that every batch input, the learning rate and
// every metric gain a leading dimension StepDim, the number of steps S of
// the run (one row per step, in order); the state inputs are read once
// and the state outputs written once per run. A run over S rows computes
// exactly what S runs of the training graph compute.
package child

import (
	"fmt"
	"slices"
)

// Param is one trainable (or running-statistic) tensor of a child: its
// name, derived from its position ("l3.conv.w"), its shape and its values,
// row-major.
type Param struct {
	Name  string
	Shape []int64
	Data  []float32
}

// Elements is the number of values Shape holds (1 for a scalar shape),
// or -1 if a dimension is not positive or the product overflows int.
func Elements(shape []int64) int {
	n := 1
	for _, d := range shape {
		if d <= 0 || int64(n) > int64(^uint(0)>>1)/d {
			return -1
		}
		n *= int(d)
	}
	return n
}

// DType is a tensor's element type.
type DType int

// The element types of graph inputs and outputs.
const (
	Float32 DType = iota + 1
	Int64
)

func (t DType) String() string {
	switch t {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("DType(%d)", int(t))
}

// BatchDim marks the batch dimension in a Tensor's shape.
const BatchDim int64 = -1

// StepDim marks the steps dimension of the K-step training graph
// (Net.Steps): the number of training steps one run makes.
const StepDim int64 = -2

// Tensor names one graph input or output: its name, element type and shape
// (BatchDim for the batch dimension).
type Tensor struct {
	Name  string
	Type  DType
	Shape []int64
}

// Column is the buffer of one batch input, as a data source fills it: F32
// for a float32 column, I64 for an int64 one, row-major, a row per example.
type Column struct {
	F32 []float32
	I64 []int64
}

// Graph is one serialized ONNX model and its signature, in order.
type Graph struct {
	Model           []byte
	Inputs, Outputs []Tensor
}

// Input returns the input called name.
func (g Graph) Input(name string) (Tensor, bool) { return find(g.Inputs, name) }

// Output returns the output called name.
func (g Graph) Output(name string) (Tensor, bool) { return find(g.Outputs, name) }

func find(ts []Tensor, name string) (Tensor, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// State is a training-graph input that the next step reads from an output
// of this one.
type State struct {
	// Input and Output are the names in the training graph.
	Input, Output string
	// Param is the index of the parameter whose values the state starts
	// from, or -1: the state starts at zero (an optimizer buffer, a carried
	// hidden state), with the shape of the input.
	Param int
	// Reset marks a recurrent network's hidden state: it restarts at zero
	// with every epoch. Only for Param -1.
	Reset bool
}

// Reduce says how a metric accumulates over the batches of a pass.
type Reduce int

const (
	// Mean: the output is a batch mean; the pass reports the mean over
	// every example (each batch weighted by its size).
	Mean Reduce = iota + 1
	// Sum: the output is a count or a sum over the batch; the pass reports
	// the total.
	Sum
)

// Metric is a scalar output ([1], float32 or int64) of both graphs.
type Metric struct {
	Name   string
	Reduce Reduce
	// Finite: a non-finite value means the child diverged (a loss).
	Finite bool
}

// Net is a compiled child network, ready to train.
type Net struct {
	// Train is one training step; Eval one evaluation batch.
	Train, Eval Graph
	// Steps is the K-step form of Train (see the package doc), for a
	// runtime that makes several steps per run (a GPU keeps the state on
	// the device for the whole run). Zero (no Model): the compiler has no
	// such form for this child; train with Train.
	Steps Graph
	// Params are the parameters' initial values, in the order of the
	// graphs' parameter inputs.
	Params []Param
	// Batch names the inputs the data source fills, in the order of its
	// columns; every one is an input of both graphs.
	Batch []string
	// LR names the learning-rate input of the training graph (float[1]).
	LR string
	// State lists the training graph's carried tensors; every other input
	// of Train is in Batch or is LR.
	State []State
	// EvalState lists the evaluation graph's carried tensors (a recurrent
	// network's hidden state): each starts at zero with every pass and is
	// read by the next batch from the output of the one before, so every
	// batch has the states' first dimension as its size. Param is -1.
	EvalState []State
	// Sequential: the examples are consecutive windows of a sequence
	// (a language model's token streams), visited in order in every epoch
	// instead of shuffled, so that a carried state continues from one
	// batch to the next.
	Sequential bool
	// Metrics are written by both graphs.
	Metrics []Metric
	// ActivationFloats is the number of float values of the training
	// graph's intermediate forward values per example (the compiler knows
	// it; runner.EstimateMemory counts them twice, values and gradients).
	// Zero: unknown.
	ActivationFloats int64
}

// Validate checks that n is self-consistent: both graphs present, every
// parameter well formed and named once, every name it lists is an input or
// output of the graph it names, every input of the training graph has a
// role, and every metric is a scalar output of both graphs.
func (n Net) Validate() error {
	if len(n.Train.Model) == 0 {
		return fmt.Errorf("child: no training graph")
	}
	if len(n.Eval.Model) == 0 {
		return fmt.Errorf("child: no evaluation graph")
	}
	if err := ValidateParams(n.Params); err != nil {
		return err
	}
	role := map[string]string{}
	claim := func(name, r string) error {
		if _, ok := n.Train.Input(name); !ok {
			return fmt.Errorf("child: %s %q is not an input of the training graph", r, name)
		}
		if prev, ok := role[name]; ok {
			return fmt.Errorf("child: training input %q is both %s and %s", name, prev, r)
		}
		role[name] = r
		return nil
	}
	for _, b := range n.Batch {
		if err := claim(b, "a batch input"); err != nil {
			return err
		}
		if _, ok := n.Eval.Input(b); !ok {
			return fmt.Errorf("child: batch input %q is not an input of the evaluation graph", b)
		}
	}
	if n.LR != "" {
		if err := claim(n.LR, "the learning rate"); err != nil {
			return err
		}
	}
	for _, s := range n.State {
		if err := claim(s.Input, "a state"); err != nil {
			return err
		}
		in, _ := n.Train.Input(s.Input)
		out, ok := n.Train.Output(s.Output)
		if !ok {
			return fmt.Errorf("child: state %q: %q is not an output of the training graph", s.Input, s.Output)
		}
		if in.Type != out.Type || !slices.Equal(in.Shape, out.Shape) {
			return fmt.Errorf("child: state %q: input %v %v and output %v %v differ", s.Input, in.Type, in.Shape, out.Type, out.Shape)
		}
		if Elements(in.Shape) < 0 {
			return fmt.Errorf("child: state %q: shape %v: want fixed positive dimensions", s.Input, in.Shape)
		}
		if s.Param >= len(n.Params) || s.Param < -1 {
			return fmt.Errorf("child: state %q: parameter %d of %d", s.Input, s.Param, len(n.Params))
		}
		if s.Param >= 0 {
			p := n.Params[s.Param]
			if !slices.Equal(p.Shape, in.Shape) {
				return fmt.Errorf("child: state %q: shape %v, parameter %s has %v", s.Input, in.Shape, p.Name, p.Shape)
			}
			if _, ok := n.Eval.Input(p.Name); !ok {
				return fmt.Errorf("child: parameter %q is not an input of the evaluation graph", p.Name)
			}
		}
	}
	for _, s := range n.State {
		if s.Reset && s.Param >= 0 {
			return fmt.Errorf("child: state %q: a reset state must start at zero (parameter %d)", s.Input, s.Param)
		}
	}
	if err := n.validateEvalState(); err != nil {
		return err
	}
	if err := n.validateSteps(); err != nil {
		return err
	}
	for _, t := range n.Train.Inputs {
		if _, ok := role[t.Name]; !ok {
			return fmt.Errorf("child: training input %q has no role (not a batch input, the learning rate or a state)", t.Name)
		}
	}
	for _, m := range n.Metrics {
		for _, g := range []struct {
			what string
			g    Graph
		}{{"training", n.Train}, {"evaluation", n.Eval}} {
			t, ok := g.g.Output(m.Name)
			if !ok {
				return fmt.Errorf("child: metric %q is not an output of the %s graph", m.Name, g.what)
			}
			if !slices.Equal(t.Shape, []int64{1}) {
				return fmt.Errorf("child: metric %q: shape %v in the %s graph, want [1]", m.Name, t.Shape, g.what)
			}
		}
		if m.Reduce != Mean && m.Reduce != Sum {
			return fmt.Errorf("child: metric %q: no reduction", m.Name)
		}
	}
	return nil
}

// validateEvalState checks the evaluation graph's carried tensors: each an
// input and an output of the same float32 type and fixed shape, starting at
// zero, all with one first dimension (the batch), and none a batch input or
// a parameter.
func (n Net) validateEvalState() error {
	taken := map[string]bool{}
	for _, b := range n.Batch {
		taken[b] = true
	}
	for _, p := range n.Params {
		taken[p.Name] = true
	}
	var batch int64
	for _, s := range n.EvalState {
		in, ok := n.Eval.Input(s.Input)
		if !ok {
			return fmt.Errorf("child: evaluation state %q is not an input of the evaluation graph", s.Input)
		}
		if taken[s.Input] {
			return fmt.Errorf("child: evaluation input %q is a state and a batch input or parameter", s.Input)
		}
		taken[s.Input] = true
		out, ok := n.Eval.Output(s.Output)
		if !ok {
			return fmt.Errorf("child: evaluation state %q: %q is not an output of the evaluation graph", s.Input, s.Output)
		}
		if in.Type != Float32 || out.Type != Float32 || !slices.Equal(in.Shape, out.Shape) {
			return fmt.Errorf("child: evaluation state %q: input %v %v and output %v %v: want float32 and one shape", s.Input, in.Type, in.Shape, out.Type, out.Shape)
		}
		if Elements(in.Shape) < 0 || len(in.Shape) == 0 {
			return fmt.Errorf("child: evaluation state %q: shape %v: want fixed positive dimensions", s.Input, in.Shape)
		}
		if s.Param != -1 || s.Reset {
			return fmt.Errorf("child: evaluation state %q: starts at zero every pass (Param -1, no Reset flag)", s.Input)
		}
		if batch == 0 {
			batch = in.Shape[0]
		} else if in.Shape[0] != batch {
			return fmt.Errorf("child: evaluation state %q: first dimension %d, another state's is %d", s.Input, in.Shape[0], batch)
		}
	}
	return nil
}

// validateSteps checks the K-step graph against the training graph: the
// same inputs and outputs in the same order, each of the same type, with
// StepDim prepended to the shapes of the batch inputs, the learning rate
// and the metrics, and the others' shapes unchanged.
func (n Net) validateSteps() error {
	if len(n.Steps.Model) == 0 {
		if len(n.Steps.Inputs)+len(n.Steps.Outputs) > 0 {
			return fmt.Errorf("child: a K-step signature without a graph")
		}
		return nil
	}
	per := map[string]bool{}
	for _, b := range n.Batch {
		per[b] = true
	}
	if n.LR != "" {
		per[n.LR] = true
	}
	for _, m := range n.Metrics {
		per[m.Name] = true
	}
	check := func(what string, train, steps []Tensor) error {
		if len(train) != len(steps) {
			return fmt.Errorf("child: K-step graph: %d %ss, the training graph has %d", len(steps), what, len(train))
		}
		for i, t := range train {
			s := steps[i]
			want := t.Shape
			if per[t.Name] {
				want = append([]int64{StepDim}, t.Shape...)
			}
			if s.Name != t.Name || s.Type != t.Type || !slices.Equal(s.Shape, want) {
				return fmt.Errorf("child: K-step graph: %s %d is %s %v %v, want %s %v %v", what, i, s.Name, s.Type, s.Shape, t.Name, t.Type, want)
			}
		}
		return nil
	}
	if err := check("input", n.Train.Inputs, n.Steps.Inputs); err != nil {
		return err
	}
	return check("output", n.Train.Outputs, n.Steps.Outputs)
}

// EvalBatch is the batch size the evaluation states fix, or 0 when there
// are none.
func (n Net) EvalBatch() int {
	if len(n.EvalState) == 0 {
		return 0
	}
	in, _ := n.Eval.Input(n.EvalState[0].Input)
	if len(in.Shape) == 0 {
		return 0
	}
	return int(in.Shape[0])
}

// ValidateParams checks that every parameter has a name no other has, a
// positive shape and as many values as its shape holds.
func ValidateParams(ps []Param) error {
	if len(ps) == 0 {
		return fmt.Errorf("child: no parameters")
	}
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		if p.Name == "" {
			return fmt.Errorf("child: param %d: empty name", i)
		}
		if seen[p.Name] {
			return fmt.Errorf("child: param %d: duplicate name %q", i, p.Name)
		}
		seen[p.Name] = true
		n := Elements(p.Shape)
		if n < 0 {
			return fmt.Errorf("child: param %s: shape %v: dimensions must be positive", p.Name, p.Shape)
		}
		if n != len(p.Data) {
			return fmt.Errorf("child: param %s: shape %v needs %d values, have %d", p.Name, p.Shape, n, len(p.Data))
		}
	}
	return nil
}

// ParamFloats is the number of values of all parameters.
func (n Net) ParamFloats() int64 {
	var s int64
	for _, p := range n.Params {
		s += int64(len(p.Data))
	}
	return s
}

// StateFloats is the number of values of every state that starts at zero
// (optimizer buffers, carried tensors).
func (n Net) StateFloats() int64 {
	var s int64
	for _, st := range n.State {
		if st.Param < 0 {
			in, _ := n.Train.Input(st.Input)
			s += int64(max(Elements(in.Shape), 0))
		}
	}
	return s
}
