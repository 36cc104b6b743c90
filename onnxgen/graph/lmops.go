package graph

import (
	"slices"
	"strconv"

	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// The ops the recurrent language models need (package onnxgen's lm*.go):
// the cell's activations, the embedding lookup and its gradient, the
// per-leaf split and the shape plumbing of the inference graph.

// Tanh is tanh x.
func (b *Builder) Tanh(out string, x Value) Value { return b.unary("Tanh", out, x, Float) }

// Sigmoid is 1/(1+e⁻ˣ).
func (b *Builder) Sigmoid(out string, x Value) Value { return b.unary("Sigmoid", out, x, Float) }

// Gather takes rows of data along axis 0: indices (int64, any shape, the
// batch dimension allowed) followed by data's other dimensions.
func (b *Builder) Gather(out string, data, indices Value) Value {
	if !b.check("Gather", out, data, indices) || !b.wantType("Gather", out, indices, Int64) {
		return Value{}
	}
	if len(data.Shape) < 1 || data.Shape[0] == Batch {
		b.failf("Gather %q: data %s: want a fixed first dimension", out, DimsString(data.Shape))
		return Value{}
	}
	shape := append(slices.Clone(indices.Shape), data.Shape[1:]...)
	return b.op1("Gather", out, data.Type, shape, []Value{data, indices}, intAttr("axis", 0))
}

// ScatterAdd is ScatterElements along axis 0 with reduction add: data with
// updates[i][j] added at row indices[i][j], column j (indices and updates
// of one shape, int64 indices). Unlike ScatterND(reduction=add) it is
// correct with repeated indices and several threads in ORT 1.30.
func (b *Builder) ScatterAdd(out string, data, indices, updates Value) Value {
	if !b.check("ScatterElements", out, data, indices, updates) || !b.wantType("ScatterElements", out, indices, Int64) ||
		!b.wantType("ScatterElements", out, updates, data.Type) {
		return Value{}
	}
	if !slices.Equal(indices.Shape, updates.Shape) || len(indices.Shape) != len(data.Shape) {
		b.failf("ScatterElements %q: indices %s, updates %s, data %s", out, DimsString(indices.Shape), DimsString(updates.Shape), DimsString(data.Shape))
		return Value{}
	}
	return b.op1("ScatterElements", out, data.Type, data.Shape, []Value{data, indices, updates},
		intAttr("axis", 0), stringAttr("reduction", "add"))
}

// Split cuts x along axis into pieces of the given sizes (which must add up
// to the dimension); the outputs are called name.0, name.1, ….
func (b *Builder) Split(name string, x Value, axis int64, sizes ...int64) []Value {
	if !b.check("Split", name, x) {
		return make([]Value, len(sizes))
	}
	ax, ok := b.axis("Split", name, axis, len(x.Shape))
	if !ok {
		return make([]Value, len(sizes))
	}
	var total int64
	for _, s := range sizes {
		if s < 1 {
			total = -1
			break
		}
		total += s
	}
	if x.Shape[ax] == Batch || total != x.Shape[ax] || len(sizes) == 0 {
		b.failf("Split %q: sizes %v for dimension %d of %s", name, sizes, ax, DimsString(x.Shape))
		return make([]Value, len(sizes))
	}
	outs := make([]Value, len(sizes))
	for i, s := range sizes {
		shape := slices.Clone(x.Shape)
		shape[ax] = s
		outs[i] = Value{Name: name + "." + strconv.Itoa(i), Type: x.Type, Shape: shape}
	}
	b.node("Split", []Value{x, b.Int64s(sizes...)}, []*onnxpb.AttributeProto{intAttr("axis", int64(ax))}, outs...)
	if b.err != nil {
		return make([]Value, len(sizes))
	}
	for i := range outs {
		outs[i] = b.vals[outs[i].Name]
	}
	return outs
}

// Expand broadcasts x to shape (numpy rules; fixed dimensions only).
func (b *Builder) Expand(out string, x Value, shape ...int64) Value {
	if !b.check("Expand", out, x) {
		return Value{}
	}
	s, ok := broadcast(x.Shape, shape)
	if !ok || !slices.Equal(s, shape) || slices.Contains(shape, Batch) {
		b.failf("Expand %q: %s to %s", out, DimsString(x.Shape), DimsString(shape))
		return Value{}
	}
	return b.op1("Expand", out, x.Type, s, []Value{x, b.Int64s(shape...)})
}

// Squeeze removes dimensions of size 1 at axes (of the input).
func (b *Builder) Squeeze(out string, x Value, axes ...int64) Value {
	if !b.check("Squeeze", out, x) {
		return Value{}
	}
	drop := make([]bool, len(x.Shape))
	for _, a := range axes {
		ax, ok := b.axis("Squeeze", out, a, len(x.Shape))
		if !ok {
			return Value{}
		}
		if x.Shape[ax] != 1 {
			b.failf("Squeeze %q: dimension %d of %s is not 1", out, a, DimsString(x.Shape))
			return Value{}
		}
		drop[ax] = true
	}
	var shape []int64
	for i, d := range x.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	return b.op1("Squeeze", out, x.Type, shape, []Value{x, b.Int64s(axes...)})
}

// Outer makes v, a value of the graph that will hold this one as a
// subgraph (a Scan body), usable here without declaring it an input: ONNX's
// outer-scope reference.
func (b *Builder) Outer(v Value) Value {
	if !b.define(v) {
		return Value{}
	}
	return b.vals[v.Name]
}

// Scan runs body once per slice along axis 0 of the scan inputs (all of one
// length T), reversed if reverse: body's inputs are len(states) loop states
// then one slice of each scan input; its outputs the states' next values
// then the per-iteration values that Scan stacks along a new axis 0 (in
// the order of time also when reversed). outs names Scan's outputs: the
// final states, then the stacked values. The body's own constants are
// renamed with the prefix outs[0]+"/" so that no name of the body shadows
// one of this graph.
func (b *Builder) Scan(outs []string, body *Builder, states, scans []Value, reverse bool) []Value {
	fail := make([]Value, len(outs))
	if !b.check("Scan", outs[0], append(slices.Clone(states), scans...)...) {
		return fail
	}
	if body.err != nil {
		b.failf("Scan %q: body: %v", outs[0], body.err)
		return fail
	}
	bin, bout := body.Inputs(), body.Outputs()
	if len(bin) != len(states)+len(scans) || len(bout) != len(outs) || len(bout) < len(states) || len(scans) == 0 {
		b.failf("Scan %q: body of %d inputs and %d outputs for %d states, %d scan inputs, %d outputs", outs[0], len(bin), len(bout), len(states), len(scans), len(outs))
		return fail
	}
	T := scans[0].Shape[0]
	for i, s := range states {
		if s.Type != bin[i].Type || !slices.Equal(s.Shape, bin[i].Shape) || !slices.Equal(s.Shape, bout[i].Shape) {
			b.failf("Scan %q: state %q %s, body input %s, body output %s", outs[0], s.Name, DimsString(s.Shape), DimsString(bin[i].Shape), DimsString(bout[i].Shape))
			return fail
		}
	}
	for j, s := range scans {
		in := bin[len(states)+j]
		if len(s.Shape) == 0 || s.Shape[0] != T || T < 1 || s.Type != in.Type || !slices.Equal(s.Shape[1:], in.Shape) {
			b.failf("Scan %q: scan input %q %s for body input %s", outs[0], s.Name, DimsString(s.Shape), DimsString(in.Shape))
			return fail
		}
	}
	g, err := body.Graph()
	if err != nil {
		b.failf("Scan %q: body: %v", outs[0], err)
		return fail
	}
	prefix := outs[0] + "/"
	renamed := map[string]string{}
	for _, t := range g.Initializer {
		renamed[t.GetName()] = prefix + t.GetName()
		t.Name = proto.String(prefix + t.GetName())
	}
	for _, n := range g.Node {
		for i, in := range n.Input {
			if r, ok := renamed[in]; ok {
				n.Input[i] = r
			}
		}
	}
	vals := make([]Value, len(outs))
	for i, o := range bout {
		vals[i] = Value{Name: outs[i], Type: o.Type, Shape: o.Shape}
		if i >= len(states) {
			vals[i].Shape = append([]int64{T}, o.Shape...)
		}
	}
	attrs := []*onnxpb.AttributeProto{
		{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g},
		intAttr("num_scan_inputs", int64(len(scans))),
	}
	if reverse {
		attrs = append(attrs, intsAttr("scan_input_directions", slices.Repeat([]int64{1}, len(scans))...),
			intsAttr("scan_output_directions", slices.Repeat([]int64{1}, len(outs)-len(states))...))
	}
	b.node("Scan", append(slices.Clone(states), scans...), attrs, vals...)
	if b.err != nil {
		return fail
	}
	for i := range vals {
		vals[i] = b.vals[vals[i].Name]
	}
	return vals
}
