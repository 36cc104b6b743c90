package onnxgen

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// stepPrefix prefixes every name of the training step inside the K-step
// form's Loop body, so that no name of the body shadows one of the outer
// graph (the outer graph keeps the step's own names: the contract's).
const stepPrefix = "step/"

// stepsModel wraps a compiled training step (m, with its signature sig and
// state pairs) into the K-step form, serialized with its signature: one ONNX Loop whose body is the step's
// nodes, verbatim but renamed with stepPrefix, and whose loop-carried state
// is every state pair, in order. The outer graph has the step's inputs and
// outputs under the same names; those named in perStep (the batch inputs
// and the learning rate; the metrics) gain a leading dimension S, the number
// of steps, which the Loop's trip count is read from (the first dimension of
// perStep's first input). Iteration i reads row i of each per-step input
// (Gather on the iteration number) and writes row i of each per-step output
// (a scan output). Nothing else changes, so each iteration computes exactly
// what one run of the step graph computes.
func stepsModel(m *onnxpb.ModelProto, sig child.Graph, state []child.State, perStep []string) (child.Graph, error) {
	per := map[string]bool{}
	for _, n := range perStep {
		per[n] = true
	}
	var perIn, perOut []string
	for _, t := range sig.Inputs {
		if per[t.Name] {
			perIn = append(perIn, t.Name)
		}
	}
	for _, t := range sig.Outputs {
		if per[t.Name] {
			perOut = append(perOut, t.Name)
		}
	}
	if len(perIn) == 0 {
		return child.Graph{}, fmt.Errorf("onnxgen: steps form: no per-step input")
	}
	if len(perIn)+len(perOut) != len(perStep) {
		return child.Graph{}, fmt.Errorf("onnxgen: steps form: per-step names %v are not all inputs or outputs of the step", perStep)
	}
	g := m.GetGraph()
	rn := func(s string) string {
		if s == "" {
			return ""
		}
		return stepPrefix + s
	}
	body := &onnxpb.GraphProto{Name: proto.String("nas.train.step")}
	body.Input = append(body.Input, scalarInfo(rn("iter"), onnxpb.TensorProto_INT64), scalarInfo(rn("cond"), onnxpb.TensorProto_BOOL))
	loopIn := []string{"steps.count", ""}
	var loopOut []string
	for _, s := range state {
		in, ok := sig.Input(s.Input)
		if !ok {
			return child.Graph{}, fmt.Errorf("onnxgen: steps form: state %q is not an input", s.Input)
		}
		body.Input = append(body.Input, infoOf(rn(s.Input), in))
		loopIn = append(loopIn, s.Input)
		loopOut = append(loopOut, s.Output)
	}
	for _, name := range perIn {
		body.Node = append(body.Node, &onnxpb.NodeProto{OpType: proto.String("Gather"), Name: proto.String(rn(name)),
			Input: []string{name, rn("iter")}, Output: []string{rn(name)},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(0)}}})
	}
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			if a.G != nil || len(a.Graphs) > 0 {
				return child.Graph{}, fmt.Errorf("onnxgen: steps form: node %q has a subgraph", n.GetName())
			}
		}
		c := proto.Clone(n).(*onnxpb.NodeProto)
		c.Name = proto.String(rn(n.GetName()))
		for i := range c.Input {
			c.Input[i] = rn(c.Input[i])
		}
		for i := range c.Output {
			c.Output[i] = rn(c.Output[i])
		}
		body.Node = append(body.Node, c)
	}
	for _, t := range g.GetInitializer() {
		c := proto.Clone(t).(*onnxpb.TensorProto)
		c.Name = proto.String(rn(t.GetName()))
		body.Initializer = append(body.Initializer, c)
	}
	body.Node = append(body.Node, &onnxpb.NodeProto{OpType: proto.String("Identity"), Name: proto.String(rn("cond.next")),
		Input: []string{rn("cond")}, Output: []string{rn("cond.next")}})
	body.Output = append(body.Output, scalarInfo(rn("cond.next"), onnxpb.TensorProto_BOOL))
	for _, s := range state {
		out, ok := sig.Output(s.Output)
		if !ok {
			return child.Graph{}, fmt.Errorf("onnxgen: steps form: state output %q is not an output", s.Output)
		}
		body.Output = append(body.Output, infoOf(rn(s.Output), out))
	}
	for _, name := range perOut {
		out, _ := sig.Output(name)
		body.Output = append(body.Output, infoOf(rn(name), out))
		loopOut = append(loopOut, name)
	}

	outer := &onnxpb.GraphProto{Name: proto.String("nas.train.steps")}
	res := child.Graph{}
	for _, t := range sig.Inputs {
		t.Shape = slices.Clone(t.Shape)
		if per[t.Name] {
			t.Shape = append([]int64{child.StepDim}, t.Shape...)
		}
		outer.Input = append(outer.Input, infoOf(t.Name, t))
		res.Inputs = append(res.Inputs, t)
	}
	for _, t := range sig.Outputs {
		t.Shape = slices.Clone(t.Shape)
		if per[t.Name] {
			t.Shape = append([]int64{child.StepDim}, t.Shape...)
		}
		outer.Output = append(outer.Output, infoOf(t.Name, t))
		res.Outputs = append(res.Outputs, t)
	}
	outer.Initializer = []*onnxpb.TensorProto{{Name: proto.String("steps.axis"), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
		Int64Data: []int64{0}}}
	outer.Node = []*onnxpb.NodeProto{
		{OpType: proto.String("Shape"), Name: proto.String("steps.shape"), Input: []string{perIn[0]}, Output: []string{"steps.shape"}},
		{OpType: proto.String("Gather"), Name: proto.String("steps.count"), Input: []string{"steps.shape", "steps.axis"},
			Output:    []string{"steps.count"},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(0)}}},
		{OpType: proto.String("Loop"), Name: proto.String("steps"), Input: loopIn, Output: loopOut,
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: body}}},
	}
	out := &onnxpb.ModelProto{IrVersion: m.IrVersion, ProducerName: m.ProducerName,
		OpsetImport: slices.Clone(m.GetOpsetImport()), Graph: outer}
	b, err := (proto.MarshalOptions{Deterministic: true}).Marshal(out)
	if err != nil {
		return child.Graph{}, err
	}
	res.Model = b
	return res, nil
}

// scalarInfo describes a rank-0 tensor (a Loop body's iteration number and
// condition).
func scalarInfo(name string, t onnxpb.TensorProto_DataType) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(t)), Shape: &onnxpb.TensorShapeProto{}}}}}
}

// infoOf describes t under name: the batch dimension as "N", the steps
// dimension as "S".
func infoOf(name string, t child.Tensor) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(t.Shape))}
	for i, d := range t.Shape {
		switch d {
		case child.BatchDim:
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
		case child.StepDim:
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "S"}}
		default:
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		}
	}
	et := onnxpb.TensorProto_FLOAT
	if t.Type == child.Int64 {
		et = onnxpb.TensorProto_INT64
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(et)), Shape: shape}}}}
}
