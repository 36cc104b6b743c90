package graph

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Batch is the symbolic batch dimension in a Value's shape; graphs declare
// it as the dimension parameter "N".
const Batch int64 = -1

// The ONNX version a Builder targets: what Debian's onnx 1.12 checker
// validates and ONNX Runtime 1.30 runs.
const (
	IRVersion = 8
	Opset     = 17
)

// DType is an ONNX tensor element type.
type DType = onnxpb.TensorProto_DataType

// The element types the graphs use.
const (
	Float = onnxpb.TensorProto_FLOAT
	Int64 = onnxpb.TensorProto_INT64
	Bool  = onnxpb.TensorProto_BOOL
)

// Value is a tensor of a graph under construction: its name, element type
// and shape (Batch for the symbolic batch dimension). The zero Value is "no
// value": an absent optional input (a Conv without bias) or the result of an
// op after the builder's first error.
type Value struct {
	Name  string
	Type  DType
	Shape []int64
}

// Builder builds one ONNX graph op by op. Every op checks its inputs' types
// and shapes and infers its output's when it is added; the first error is
// kept (sticky), later ops return the zero Value and add nothing, so that a
// graph is written one op per line and checked once, by Err or Model. Value
// names must be unique. Node order is the order of the calls, so every value
// is defined before it is used.
type Builder struct {
	name    string
	inputs  []*onnxpb.ValueInfoProto
	outputs []*onnxpb.ValueInfoProto
	sig     [2][]Value // the inputs and outputs as Values
	inits   []*onnxpb.TensorProto
	nodes   []*onnxpb.NodeProto
	vals    map[string]Value
	err     error
}

// NewBuilder starts an empty graph called name.
func NewBuilder(name string) *Builder {
	return &Builder{name: name, vals: map[string]Value{}}
}

// Inputs are the graph inputs declared so far, in order.
func (b *Builder) Inputs() []Value { return slices.Clone(b.sig[0]) }

// Outputs are the graph outputs declared so far, in order.
func (b *Builder) Outputs() []Value { return slices.Clone(b.sig[1]) }

// Err is the builder's first error, nil if none.
func (b *Builder) Err() error { return b.err }

func (b *Builder) failf(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("onnxgen: "+format, args...)
	}
}

// Lookup returns the value called name, if it is defined.
func (b *Builder) Lookup(name string) (Value, bool) {
	v, ok := b.vals[name]
	return v, ok
}

// define registers a new value; false (and the sticky error) if the name is
// empty or taken.
func (b *Builder) define(v Value) bool {
	if b.err != nil {
		return false
	}
	if v.Name == "" {
		b.failf("value without a name")
		return false
	}
	if _, dup := b.vals[v.Name]; dup {
		b.failf("value %q defined twice", v.Name)
		return false
	}
	for _, d := range v.Shape {
		if d < 0 && d != Batch {
			b.failf("value %q: negative dimension in shape %s", v.Name, DimsString(v.Shape))
			return false
		}
	}
	v.Shape = slices.Clone(v.Shape)
	b.vals[v.Name] = v
	return true
}

// Input declares a graph input (inputs keep the order of the calls).
func (b *Builder) Input(name string, t DType, shape ...int64) Value {
	v := Value{Name: name, Type: t, Shape: shape}
	if !b.define(v) {
		return Value{}
	}
	b.inputs = append(b.inputs, valueInfoOf(v))
	b.sig[0] = append(b.sig[0], b.vals[name])
	return b.vals[name]
}

// Output declares v a graph output (outputs keep the order of the calls).
func (b *Builder) Output(v Value) {
	if b.check("output", v.Name, v) {
		b.outputs = append(b.outputs, valueInfoOf(v))
		b.sig[1] = append(b.sig[1], b.vals[v.Name])
	}
}

// Initializer adds a float tensor with data, a constant or a parameter of
// the graph; len(data) must be the product of shape. The graph keeps data
// without copying it: don't change it while the model is in use.
func (b *Builder) Initializer(name string, shape []int64, data []float32) Value {
	if n, ok := NumElements(shape); !ok || n != len(data) {
		b.failf("initializer %q: %d values for shape %s", name, len(data), DimsString(shape))
		return Value{}
	}
	v := Value{Name: name, Type: Float, Shape: shape}
	if !b.define(v) {
		return Value{}
	}
	b.inits = append(b.inits, &onnxpb.TensorProto{Name: proto.String(name), Dims: slices.Clone(shape),
		DataType: proto.Int32(int32(Float)), FloatData: data})
	return b.vals[name]
}

// Scalar is a float constant of shape [1] called name; a second call with
// the same name and value returns the first.
func (b *Builder) Scalar(name string, x float32) Value {
	if v, ok := b.vals[name]; ok {
		for _, t := range b.inits {
			if t.GetName() == name && len(t.FloatData) == 1 && t.FloatData[0] == x {
				return v
			}
		}
		b.failf("constant %q redefined", name)
		return Value{}
	}
	return b.Initializer(name, []int64{1}, []float32{x})
}

// Int64s is an int64 constant of shape [len(v)] named by its content
// ("const.i.0.2.3"), shared by every op that uses the same numbers.
func (b *Builder) Int64s(v ...int64) Value {
	var s strings.Builder
	s.WriteString("const.i")
	for _, x := range v {
		s.WriteByte('.')
		s.WriteString(strconv.FormatInt(x, 10))
	}
	name := s.String()
	if c, ok := b.vals[name]; ok {
		return c
	}
	c := Value{Name: name, Type: Int64, Shape: []int64{int64(len(v))}}
	if !b.define(c) {
		return Value{}
	}
	b.inits = append(b.inits, &onnxpb.TensorProto{Name: proto.String(name), Dims: slices.Clone(c.Shape),
		DataType: proto.Int32(int32(Int64)), Int64Data: slices.Clone(v)})
	return b.vals[name]
}

// check reports whether the builder has no error and every input is a value
// of this builder (the zero Value only where optional lists it); otherwise it
// sets the sticky error.
func (b *Builder) check(op, out string, ins ...Value) bool {
	if b.err != nil {
		return false
	}
	for k, v := range ins {
		got, ok := b.vals[v.Name]
		if !ok || got.Type != v.Type || !slices.Equal(got.Shape, v.Shape) {
			b.failf("%s %q: input %d (%q) is not a value of this graph", op, out, k, v.Name)
			return false
		}
	}
	return true
}

// node emits one node whose outputs are outs (already typed and shaped);
// empty input names stand for absent optional inputs.
func (b *Builder) node(op string, ins []Value, attrs []*onnxpb.AttributeProto, outs ...Value) {
	for _, o := range outs {
		if !b.define(o) {
			return
		}
	}
	n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(outs[0].Name), Attribute: attrs}
	for _, v := range ins {
		n.Input = append(n.Input, v.Name)
	}
	for _, o := range outs {
		n.Output = append(n.Output, o.Name)
	}
	b.nodes = append(b.nodes, n)
}

// op1 emits a node with one output and returns it.
func (b *Builder) op1(op, out string, t DType, shape []int64, ins []Value, attrs ...*onnxpb.AttributeProto) Value {
	b.node(op, ins, attrs, Value{Name: out, Type: t, Shape: shape})
	if b.err != nil {
		return Value{}
	}
	return b.vals[out]
}

// Graph returns the graph built so far, or the first error; it fails when
// the graph has no output.
func (b *Builder) Graph() (*onnxpb.GraphProto, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.outputs) == 0 {
		return nil, fmt.Errorf("onnxgen: graph %q has no output", b.name)
	}
	return &onnxpb.GraphProto{Name: proto.String(b.name), Input: b.inputs, Output: b.outputs,
		Initializer: b.inits, Node: b.nodes}, nil
}

// Model wraps the graph in a model: IR version 8, opset 17 of the default
// domain, producer "nas".
func (b *Builder) Model() (*onnxpb.ModelProto, error) {
	g, err := b.Graph()
	if err != nil {
		return nil, err
	}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String("nas"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		Graph:        g,
	}, nil
}

// String prints the model as Text, or the builder's error.
func (b *Builder) String() string {
	m, err := b.Model()
	if err != nil {
		return err.Error()
	}
	return Text(m)
}

// ---- shapes ----

func DimsString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d == Batch {
			parts[i] = "N"
		} else {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// NumElements is the product of a concrete shape; false if symbolic or huge.
func NumElements(s []int64) (int, bool) {
	n := int64(1)
	for _, d := range s {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return 0, false
		}
		n *= d
	}
	return int(n), true
}

// broadcast is numpy's multidirectional broadcast; the batch dimension
// broadcasts only against itself and 1.
func broadcast(a, b []int64) ([]int64, bool) {
	n := max(len(a), len(b))
	out := make([]int64, n)
	for i := range n {
		x, y := int64(1), int64(1)
		if k := i - (n - len(a)); k >= 0 {
			x = a[k]
		}
		if k := i - (n - len(b)); k >= 0 {
			y = b[k]
		}
		switch {
		case x == y:
			out[i] = x
		case x == 1:
			out[i] = y
		case y == 1:
			out[i] = x
		default:
			return nil, false
		}
	}
	return out, true
}

// axis normalises a possibly negative axis of a rank-r tensor.
func (b *Builder) axis(op, out string, a int64, r int) (int, bool) {
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		b.failf("%s %q: axis %d out of range for rank %d", op, out, a, r)
		return 0, false
	}
	return int(a), true
}

func (b *Builder) wantRank(op, out string, v Value, r int) bool {
	if len(v.Shape) != r {
		b.failf("%s %q: %q has shape %s, want rank %d", op, out, v.Name, DimsString(v.Shape), r)
		return false
	}
	return true
}

func (b *Builder) wantType(op, out string, v Value, t DType) bool {
	if v.Type != t {
		b.failf("%s %q: %q is %s, want %s", op, out, v.Name, typeName(v.Type), typeName(t))
		return false
	}
	return true
}

// ---- attributes ----

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func intsAttr(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: slices.Clone(v)}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func stringAttr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// ---- elementwise ops ----

func (b *Builder) unary(op, out string, x Value, t DType) Value {
	if !b.check(op, out, x) || !b.wantType(op, out, x, t) {
		return Value{}
	}
	return b.op1(op, out, x.Type, x.Shape, []Value{x})
}

// Relu is max(x, 0).
func (b *Builder) Relu(out string, x Value) Value { return b.unary("Relu", out, x, Float) }

// Exp is eˣ.
func (b *Builder) Exp(out string, x Value) Value { return b.unary("Exp", out, x, Float) }

// Log is ln x.
func (b *Builder) Log(out string, x Value) Value { return b.unary("Log", out, x, Float) }

// Sqrt is √x.
func (b *Builder) Sqrt(out string, x Value) Value { return b.unary("Sqrt", out, x, Float) }

// Reciprocal is 1/x.
func (b *Builder) Reciprocal(out string, x Value) Value { return b.unary("Reciprocal", out, x, Float) }

// Identity copies x (of any type), e.g. to give a value a second name.
func (b *Builder) Identity(out string, x Value) Value {
	if !b.check("Identity", out, x) {
		return Value{}
	}
	return b.op1("Identity", out, x.Type, x.Shape, []Value{x})
}

// binary emits a broadcasting op on two inputs of one type; res is the
// output type (0: the inputs').
func (b *Builder) binary(op, out string, x, y Value, res DType) Value {
	if !b.check(op, out, x, y) {
		return Value{}
	}
	if x.Type != y.Type {
		b.failf("%s %q: %q is %s, %q is %s", op, out, x.Name, typeName(x.Type), y.Name, typeName(y.Type))
		return Value{}
	}
	s, ok := broadcast(x.Shape, y.Shape)
	if !ok {
		b.failf("%s %q: shapes %s and %s do not broadcast", op, out, DimsString(x.Shape), DimsString(y.Shape))
		return Value{}
	}
	if res == 0 {
		res = x.Type
	}
	return b.op1(op, out, res, s, []Value{x, y})
}

// Add is x + y (broadcasting).
func (b *Builder) Add(out string, x, y Value) Value { return b.binary("Add", out, x, y, 0) }

// Sub is x − y (broadcasting).
func (b *Builder) Sub(out string, x, y Value) Value { return b.binary("Sub", out, x, y, 0) }

// Mul is x · y (broadcasting).
func (b *Builder) Mul(out string, x, y Value) Value { return b.binary("Mul", out, x, y, 0) }

// Div is x / y (broadcasting).
func (b *Builder) Div(out string, x, y Value) Value { return b.binary("Div", out, x, y, 0) }

// Greater is x > y (broadcasting), a bool tensor.
func (b *Builder) Greater(out string, x, y Value) Value { return b.binary("Greater", out, x, y, Bool) }

// Equal is x == y (broadcasting), a bool tensor.
func (b *Builder) Equal(out string, x, y Value) Value { return b.binary("Equal", out, x, y, Bool) }

// Sum adds one or more tensors of one type (broadcasting).
func (b *Builder) Sum(out string, xs ...Value) Value {
	if !b.check("Sum", out, xs...) {
		return Value{}
	}
	if len(xs) == 0 {
		b.failf("Sum %q: no inputs", out)
		return Value{}
	}
	s := xs[0].Shape
	for _, x := range xs[1:] {
		var ok bool
		if s, ok = broadcast(s, x.Shape); !ok || x.Type != xs[0].Type {
			b.failf("Sum %q: %q (%s %s) does not match %s", out, x.Name, typeName(x.Type), DimsString(x.Shape), typeName(xs[0].Type))
			return Value{}
		}
	}
	return b.op1("Sum", out, xs[0].Type, s, xs)
}

// Where is cond ? x : y (broadcasting), cond bool.
func (b *Builder) Where(out string, cond, x, y Value) Value {
	if !b.check("Where", out, cond, x, y) || !b.wantType("Where", out, cond, Bool) || !b.wantType("Where", out, y, x.Type) {
		return Value{}
	}
	s, ok := broadcast(cond.Shape, x.Shape)
	if ok {
		s, ok = broadcast(s, y.Shape)
	}
	if !ok {
		b.failf("Where %q: shapes %s, %s, %s do not broadcast", out, DimsString(cond.Shape), DimsString(x.Shape), DimsString(y.Shape))
		return Value{}
	}
	return b.op1("Where", out, x.Type, s, []Value{cond, x, y})
}

// Cast converts x to type to.
func (b *Builder) Cast(out string, x Value, to DType) Value {
	if !b.check("Cast", out, x) {
		return Value{}
	}
	return b.op1("Cast", out, to, x.Shape, []Value{x}, intAttr("to", int64(to)))
}

// ---- convolution ----

// ConvAttrs are the attributes of Conv and ConvTranspose over NCHW tensors:
// Strides and Dilations (nil: 1), Pads (top, left, bottom, right; nil: 0),
// Group (0: 1) and, for ConvTranspose only, OutputPadding (nil: 0). The kernel
// shape is the weight's.
type ConvAttrs struct {
	Strides, Pads, Dilations, OutputPadding []int64
	Group                                   int64
}

func (a ConvAttrs) norm() (s, p, d, op []int64, g int64) {
	or := func(v []int64, n int, x int64) []int64 {
		if v != nil {
			return v
		}
		return slices.Repeat([]int64{x}, n)
	}
	g = a.Group
	if g == 0 {
		g = 1
	}
	return or(a.Strides, 2, 1), or(a.Pads, 4, 0), or(a.Dilations, 2, 1), or(a.OutputPadding, 2, 0), g
}

func (b *Builder) convCheck(op, out string, x, w, bias Value, a ConvAttrs) (s, p, d, opad []int64, g int64, ok bool) {
	ins := []Value{x, w}
	if bias.Name != "" {
		ins = append(ins, bias)
	}
	if !b.check(op, out, ins...) || !b.wantRank(op, out, x, 4) || !b.wantRank(op, out, w, 4) ||
		!b.wantType(op, out, x, Float) || !b.wantType(op, out, w, Float) {
		return
	}
	s, p, d, opad, g = a.norm()
	if len(s) != 2 || len(p) != 4 || len(d) != 2 || len(opad) != 2 || g < 1 {
		b.failf("%s %q: want 2 strides, 4 pads, 2 dilations, 2 output paddings, group ≥ 1; have %v %v %v %v %d", op, out, s, p, d, opad, g)
		return
	}
	for i := range 2 {
		if s[i] < 1 || d[i] < 1 || p[i] < 0 || p[i+2] < 0 || opad[i] < 0 {
			b.failf("%s %q: strides %v, pads %v, dilations %v, output padding %v", op, out, s, p, d, opad)
			return
		}
	}
	return s, p, d, opad, g, true
}

func (b *Builder) convAttrs(w Value, s, p, d, opad []int64, g int64, transposed bool) []*onnxpb.AttributeProto {
	attrs := []*onnxpb.AttributeProto{}
	if !slices.Equal(d, []int64{1, 1}) {
		attrs = append(attrs, intsAttr("dilations", d...))
	}
	if g != 1 {
		attrs = append(attrs, intAttr("group", g))
	}
	attrs = append(attrs, intsAttr("kernel_shape", w.Shape[2], w.Shape[3]))
	if transposed && !slices.Equal(opad, []int64{0, 0}) {
		attrs = append(attrs, intsAttr("output_padding", opad...))
	}
	return append(attrs, intsAttr("pads", p...), intsAttr("strides", s...))
}

// Conv is the 2-D convolution of x [N,C,H,W] with w [F,C/group,KH,KW] plus
// bias [F] (the zero Value: none); output [N,F,HO,WO] with
// HO = (H + pads − dilation·(KH−1) − 1)/stride + 1.
func (b *Builder) Conv(out string, x, w, bias Value, a ConvAttrs) Value {
	s, p, d, opad, g, ok := b.convCheck("Conv", out, x, w, bias, a)
	if !ok {
		return Value{}
	}
	// A symbolic channel count (a transposed batch, as in a weight
	// gradient's direct form) must be the kernel's, ungrouped.
	symbolic := x.Shape[1] == Batch && w.Shape[1] == Batch && g == 1
	if !symbolic && (x.Shape[1] == Batch || x.Shape[1] != w.Shape[1]*g || w.Shape[0]%g != 0) {
		b.failf("Conv %q: input %s, weight %s, group %d: channels do not match", out, DimsString(x.Shape), DimsString(w.Shape), g)
		return Value{}
	}
	if bias.Name != "" && (!slices.Equal(bias.Shape, []int64{w.Shape[0]}) || bias.Type != Float) {
		b.failf("Conv %q: bias %s, want [%d]", out, DimsString(bias.Shape), w.Shape[0])
		return Value{}
	}
	shape := []int64{x.Shape[0], w.Shape[0], 0, 0}
	for i := range 2 {
		span := x.Shape[2+i] + p[i] + p[i+2] - d[i]*(w.Shape[2+i]-1) - 1
		if x.Shape[2+i] < 0 || span < 0 {
			b.failf("Conv %q: kernel %s does not fit input %s with pads %v", out, DimsString(w.Shape[2:]), DimsString(x.Shape), p)
			return Value{}
		}
		shape[2+i] = span/s[i] + 1
	}
	ins := []Value{x, w}
	if bias.Name != "" {
		ins = append(ins, bias)
	}
	return b.op1("Conv", out, Float, shape, ins, b.convAttrs(w, s, p, d, opad, g, false)...)
}

// ConvTranspose is the transposed 2-D convolution of x [N,C,H,W] with
// w [C,F/group,KH,KW] (no bias); output [N,F,HO,WO] with
// HO = stride·(H−1) + output_padding + dilation·(KH−1) + 1 − pads.
func (b *Builder) ConvTranspose(out string, x, w Value, a ConvAttrs) Value {
	s, p, d, opad, g, ok := b.convCheck("ConvTranspose", out, x, w, Value{}, a)
	if !ok {
		return Value{}
	}
	if x.Shape[1] != w.Shape[0] || w.Shape[0]%g != 0 {
		b.failf("ConvTranspose %q: input %s, weight %s: channels do not match", out, DimsString(x.Shape), DimsString(w.Shape))
		return Value{}
	}
	shape := []int64{x.Shape[0], w.Shape[1] * g, 0, 0}
	for i := range 2 {
		o := s[i]*(x.Shape[2+i]-1) + opad[i] + d[i]*(w.Shape[2+i]-1) + 1 - p[i] - p[i+2]
		if x.Shape[2+i] < 1 || o < 1 || opad[i] >= max(s[i], d[i]) {
			b.failf("ConvTranspose %q: input %s, weight %s, attrs %+v give no output", out, DimsString(x.Shape), DimsString(w.Shape), a)
			return Value{}
		}
		shape[2+i] = o
	}
	return b.op1("ConvTranspose", out, Float, shape, []Value{x, w}, b.convAttrs(w, s, p, d, opad, g, true)...)
}

// BatchNormalization normalises x [N,C,...] per channel with the running
// statistics (inference mode): (x − mean)/√(var + ε)·scale + bias, all four
// of shape [C].
func (b *Builder) BatchNormalization(out string, x, scale, bias, mean, variance Value, epsilon, momentum float32) Value {
	if !b.check("BatchNormalization", out, x, scale, bias, mean, variance) || !b.wantType("BatchNormalization", out, x, Float) {
		return Value{}
	}
	if len(x.Shape) < 2 || x.Shape[1] == Batch {
		b.failf("BatchNormalization %q: input %s has no channels", out, DimsString(x.Shape))
		return Value{}
	}
	for _, p := range []Value{scale, bias, mean, variance} {
		if !slices.Equal(p.Shape, x.Shape[1:2]) || p.Type != Float {
			b.failf("BatchNormalization %q: %q has shape %s, want [%d]", out, p.Name, DimsString(p.Shape), x.Shape[1])
			return Value{}
		}
	}
	return b.op1("BatchNormalization", out, Float, x.Shape, []Value{x, scale, bias, mean, variance},
		floatAttr("epsilon", epsilon), floatAttr("momentum", momentum))
}

// ---- shape ops ----

// Pad zero-pads x: pads holds the count before each axis, then after each
// axis (ONNX order), all ≥ 0.
func (b *Builder) Pad(out string, x Value, pads ...int64) Value {
	if !b.check("Pad", out, x) {
		return Value{}
	}
	r := len(x.Shape)
	if len(pads) != 2*r {
		b.failf("Pad %q: %d pads for rank %d", out, len(pads), r)
		return Value{}
	}
	shape := slices.Clone(x.Shape)
	for i := range r {
		if pads[i] < 0 || pads[i+r] < 0 || (x.Shape[i] == Batch && pads[i]+pads[i+r] != 0) {
			b.failf("Pad %q: pads %v on shape %s", out, pads, DimsString(x.Shape))
			return Value{}
		}
		if shape[i] != Batch {
			shape[i] += pads[i] + pads[i+r]
		}
	}
	return b.op1("Pad", out, x.Type, shape, []Value{x, b.Int64s(pads...)})
}

// Concat joins xs along axis; the other dimensions must be equal.
func (b *Builder) Concat(out string, axis int64, xs ...Value) Value {
	if !b.check("Concat", out, xs...) {
		return Value{}
	}
	if len(xs) == 0 {
		b.failf("Concat %q: no inputs", out)
		return Value{}
	}
	ax, ok := b.axis("Concat", out, axis, len(xs[0].Shape))
	if !ok {
		return Value{}
	}
	shape := slices.Clone(xs[0].Shape)
	for _, x := range xs[1:] {
		same := len(x.Shape) == len(shape) && x.Type == xs[0].Type
		for i := 0; same && i < len(shape); i++ {
			same = i == ax || x.Shape[i] == shape[i]
		}
		if !same || x.Shape[ax] == Batch || shape[ax] == Batch {
			b.failf("Concat %q: %q %s does not match %s on axis %d", out, x.Name, DimsString(x.Shape), DimsString(xs[0].Shape), ax)
			return Value{}
		}
		shape[ax] += x.Shape[ax]
	}
	return b.op1("Concat", out, xs[0].Type, shape, xs, intAttr("axis", int64(ax)))
}

// GlobalAveragePool averages x [N,C,H,W] over H and W: [N,C,1,1].
func (b *Builder) GlobalAveragePool(out string, x Value) Value {
	if !b.check("GlobalAveragePool", out, x) || !b.wantRank("GlobalAveragePool", out, x, 4) {
		return Value{}
	}
	return b.op1("GlobalAveragePool", out, x.Type, []int64{x.Shape[0], x.Shape[1], 1, 1}, []Value{x})
}

// MaxPool is the k×k max pool of x [N,C,H,W] with stride s and no padding
// (floor mode: rows and columns that fill no window are dropped):
// [N,C,(H−k)/s+1,(W−k)/s+1]; the window must fit.
func (b *Builder) MaxPool(out string, x Value, k, s int64) Value {
	if !b.check("MaxPool", out, x) || !b.wantRank("MaxPool", out, x, 4) || !b.wantType("MaxPool", out, x, Float) {
		return Value{}
	}
	if k < 1 || s < 1 || x.Shape[2] < k || x.Shape[3] < k {
		b.failf("MaxPool %q: kernel %d, stride %d on input %s", out, k, s, DimsString(x.Shape))
		return Value{}
	}
	shape := []int64{x.Shape[0], x.Shape[1], (x.Shape[2]-k)/s + 1, (x.Shape[3]-k)/s + 1}
	return b.op1("MaxPool", out, Float, shape, []Value{x}, intsAttr("kernel_shape", k, k), intsAttr("strides", s, s))
}

// SpaceToDepth moves each block×block tile of x [N,C,H,W] into channels:
// [N, block²·C, H/block, W/block], out[n, (a·block+b)·C + c, h, w] =
// x[n, c, h·block+a, w·block+b]; H and W must be multiples of block.
func (b *Builder) SpaceToDepth(out string, x Value, block int64) Value {
	if !b.check("SpaceToDepth", out, x) || !b.wantRank("SpaceToDepth", out, x, 4) {
		return Value{}
	}
	if block < 1 || x.Shape[1] == Batch || x.Shape[2]%block != 0 || x.Shape[3]%block != 0 {
		b.failf("SpaceToDepth %q: block %d on input %s", out, block, DimsString(x.Shape))
		return Value{}
	}
	shape := []int64{x.Shape[0], x.Shape[1] * block * block, x.Shape[2] / block, x.Shape[3] / block}
	return b.op1("SpaceToDepth", out, x.Type, shape, []Value{x}, intAttr("blocksize", block))
}

// DepthToSpace is the inverse of SpaceToDepth (mode DCR): x
// [N, block²·C, H, W] to [N, C, H·block, W·block], out[n, c, h·block+a,
// w·block+b] = x[n, (a·block+b)·C + c, h, w].
func (b *Builder) DepthToSpace(out string, x Value, block int64) Value {
	if !b.check("DepthToSpace", out, x) || !b.wantRank("DepthToSpace", out, x, 4) {
		return Value{}
	}
	if block < 1 || x.Shape[1] == Batch || x.Shape[1]%(block*block) != 0 {
		b.failf("DepthToSpace %q: block %d on input %s", out, block, DimsString(x.Shape))
		return Value{}
	}
	shape := []int64{x.Shape[0], x.Shape[1] / (block * block), x.Shape[2] * block, x.Shape[3] * block}
	return b.op1("DepthToSpace", out, x.Type, shape, []Value{x}, intAttr("blocksize", block), stringAttr("mode", "DCR"))
}

// product multiplies dims; a lone Batch stays Batch, Batch with others fails.
func Product(ds []int64) (int64, bool) {
	if len(ds) == 1 {
		return ds[0], true
	}
	p := int64(1)
	for _, d := range ds {
		if d == Batch {
			return 0, false
		}
		p *= d
	}
	return p, true
}

// Flatten reshapes x to 2-D: [d0·…·d(axis−1), d(axis)·…].
func (b *Builder) Flatten(out string, x Value, axis int64) Value {
	if !b.check("Flatten", out, x) {
		return Value{}
	}
	r := len(x.Shape)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis > int64(r) {
		b.failf("Flatten %q: axis %d out of range for rank %d", out, axis, r)
		return Value{}
	}
	p, ok1 := Product(x.Shape[:axis])
	q, ok2 := Product(x.Shape[axis:])
	if !ok1 || !ok2 {
		b.failf("Flatten %q: cannot flatten the batch dimension of %s", out, DimsString(x.Shape))
		return Value{}
	}
	return b.op1("Flatten", out, x.Type, []int64{p, q}, []Value{x}, intAttr("axis", axis))
}

// Reshape gives x the shape target with ONNX's rules: 0 copies the input's
// dimension, one −1 is inferred. The batch dimension must be copied with 0.
func (b *Builder) Reshape(out string, x Value, target ...int64) Value {
	if !b.check("Reshape", out, x) {
		return Value{}
	}
	shape := slices.Clone(target)
	infer := -1
	for i, d := range shape {
		switch {
		case d == 0 && i < len(x.Shape):
			shape[i] = x.Shape[i]
		case d == -1 && infer < 0:
			infer = i
		case d < 1:
			b.failf("Reshape %q: target %v", out, target)
			return Value{}
		}
	}
	count := func(s []int64, skip int) (n int64, batch int) {
		n = 1
		for i, d := range s {
			if i == skip {
				continue
			}
			if d == Batch {
				batch++
			} else {
				n *= d
			}
		}
		return n, batch
	}
	nin, bin := count(x.Shape, -1)
	nout, bout := count(shape, infer)
	switch {
	case bin != bout:
		b.failf("Reshape %q: %s to %v moves the batch dimension", out, DimsString(x.Shape), target)
		return Value{}
	case infer >= 0 && (nout == 0 || nin%nout != 0):
		b.failf("Reshape %q: cannot reshape %s to %v", out, DimsString(x.Shape), target)
		return Value{}
	case infer >= 0:
		shape[infer] = nin / nout
	case nin != nout:
		b.failf("Reshape %q: cannot reshape %s to %v", out, DimsString(x.Shape), target)
		return Value{}
	}
	return b.op1("Reshape", out, x.Type, shape, []Value{x, b.Int64s(target...)})
}

// Transpose permutes the axes of x.
func (b *Builder) Transpose(out string, x Value, perm ...int64) Value {
	if !b.check("Transpose", out, x) {
		return Value{}
	}
	r := len(x.Shape)
	seen := make([]bool, r)
	shape := make([]int64, len(perm))
	for i, p := range perm {
		if len(perm) != r || p < 0 || p >= int64(r) || seen[p] {
			b.failf("Transpose %q: perm %v for rank %d", out, perm, r)
			return Value{}
		}
		seen[p] = true
		shape[i] = x.Shape[p]
	}
	return b.op1("Transpose", out, x.Type, shape, []Value{x}, intsAttr("perm", perm...))
}

// Unsqueeze inserts dimensions of size 1 at axes (of the output).
func (b *Builder) Unsqueeze(out string, x Value, axes ...int64) Value {
	if !b.check("Unsqueeze", out, x) {
		return Value{}
	}
	r := len(x.Shape) + len(axes)
	ones := make([]bool, r)
	for _, a := range axes {
		ax, ok := b.axis("Unsqueeze", out, a, r)
		if !ok {
			return Value{}
		}
		if ones[ax] {
			b.failf("Unsqueeze %q: axis %d twice", out, a)
			return Value{}
		}
		ones[ax] = true
	}
	shape := make([]int64, 0, r)
	k := 0
	for i := range r {
		if ones[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, x.Shape[k])
			k++
		}
	}
	return b.op1("Unsqueeze", out, x.Type, shape, []Value{x, b.Int64s(axes...)})
}

// Slice takes x[starts:ends:steps] along axes with ONNX's clamping; the batch
// dimension can only be taken whole (start 0, end ≥ MaxInt64/2, step 1).
func (b *Builder) Slice(out string, x Value, starts, ends, axes, steps []int64) Value {
	if !b.check("Slice", out, x) {
		return Value{}
	}
	if steps == nil {
		steps = slices.Repeat([]int64{1}, len(starts))
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		b.failf("Slice %q: %d starts, %d ends, %d axes, %d steps", out, len(starts), len(ends), len(axes), len(steps))
		return Value{}
	}
	shape := slices.Clone(x.Shape)
	for i, a := range axes {
		ax, ok := b.axis("Slice", out, a, len(x.Shape))
		if !ok {
			return Value{}
		}
		d, st, en, step := x.Shape[ax], starts[i], ends[i], steps[i]
		if d == Batch {
			if st != 0 || en < math.MaxInt64/2 || step != 1 {
				b.failf("Slice %q: cannot slice the batch dimension", out)
				return Value{}
			}
			continue
		}
		if step == 0 {
			b.failf("Slice %q: step 0", out)
			return Value{}
		}
		clamp := func(v, lo, hi int64) int64 {
			if v < 0 && v > math.MinInt64/2 {
				v += d
			} else if v <= math.MinInt64/2 {
				v = lo
			}
			return min(max(v, lo), hi)
		}
		var n int64
		if step > 0 {
			st, en = clamp(st, 0, d), clamp(en, 0, d)
			n = max(0, (en-st+step-1)/step)
		} else {
			st, en = clamp(st, 0, d-1), clamp(en, -1, d-1)
			if ends[i] <= math.MinInt64/2 {
				en = -1
			}
			n = max(0, (st-en-step-1)/(-step))
		}
		shape[ax] = n
	}
	ins := []Value{x, b.Int64s(starts...), b.Int64s(ends...), b.Int64s(axes...)}
	if slices.ContainsFunc(steps, func(s int64) bool { return s != 1 }) {
		ins = append(ins, b.Int64s(steps...))
	}
	return b.op1("Slice", out, x.Type, shape, ins)
}

// reduced is the shape of x reduced over axes.
func (b *Builder) reduced(op, out string, x Value, axes []int64, keep bool) ([]int64, bool) {
	red := make([]bool, len(x.Shape))
	for _, a := range axes {
		ax, ok := b.axis(op, out, a, len(x.Shape))
		if !ok {
			return nil, false
		}
		red[ax] = true
	}
	var shape []int64
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			shape = append(shape, d)
		case keep:
			shape = append(shape, 1)
		}
	}
	return shape, true
}

// ReduceSum sums x over axes (at least one), keeping them as 1 if keepdims.
func (b *Builder) ReduceSum(out string, x Value, keepdims bool, axes ...int64) Value {
	if !b.check("ReduceSum", out, x) {
		return Value{}
	}
	if len(axes) == 0 {
		b.failf("ReduceSum %q: no axes", out)
		return Value{}
	}
	shape, ok := b.reduced("ReduceSum", out, x, axes, keepdims)
	if !ok {
		return Value{}
	}
	return b.op1("ReduceSum", out, x.Type, shape, []Value{x, b.Int64s(axes...)}, intAttr("keepdims", boolInt(keepdims)))
}

// ReduceMean averages x over axes (at least one; an attribute in opset 17).
func (b *Builder) ReduceMean(out string, x Value, keepdims bool, axes ...int64) Value {
	if !b.check("ReduceMean", out, x) {
		return Value{}
	}
	if len(axes) == 0 {
		b.failf("ReduceMean %q: no axes", out)
		return Value{}
	}
	shape, ok := b.reduced("ReduceMean", out, x, axes, keepdims)
	if !ok {
		return Value{}
	}
	return b.op1("ReduceMean", out, x.Type, shape, []Value{x}, intsAttr("axes", axes...), intAttr("keepdims", boolInt(keepdims)))
}

// ArgMax is the index of the largest element along axis, int64.
func (b *Builder) ArgMax(out string, x Value, axis int64, keepdims bool) Value {
	if !b.check("ArgMax", out, x) {
		return Value{}
	}
	shape, ok := b.reduced("ArgMax", out, x, []int64{axis}, keepdims)
	if !ok {
		return Value{}
	}
	return b.op1("ArgMax", out, Int64, shape, []Value{x}, intAttr("axis", axis), intAttr("keepdims", boolInt(keepdims)))
}

// ---- linear algebra and losses ----

// GemmAttrs are the attributes of Gemm.
type GemmAttrs struct {
	TransA, TransB bool
	Alpha, Beta    float32 // 0: 1
}

// Gemm is alpha·X'·Y' + beta·C for 2-D x and y, with X' = Xᵀ if TransA and
// Y' = Yᵀ if TransB; c broadcasts to the [M,N] result (the zero Value: none).
func (b *Builder) Gemm(out string, x, y, c Value, a GemmAttrs) Value {
	ins := []Value{x, y}
	if c.Name != "" {
		ins = append(ins, c)
	}
	if !b.check("Gemm", out, ins...) || !b.wantRank("Gemm", out, x, 2) || !b.wantRank("Gemm", out, y, 2) {
		return Value{}
	}
	m, k := x.Shape[0], x.Shape[1]
	if a.TransA {
		m, k = k, m
	}
	k2, n := y.Shape[0], y.Shape[1]
	if a.TransB {
		k2, n = n, k2
	}
	if k != k2 { // the batch may be contracted: dW = Gemm(dy, x, transA)
		b.failf("Gemm %q: inner dimensions of %s and %s do not match", out, DimsString(x.Shape), DimsString(y.Shape))
		return Value{}
	}
	shape := []int64{m, n}
	if c.Name != "" {
		if s, ok := broadcast(shape, c.Shape); !ok || !slices.Equal(s, shape) {
			b.failf("Gemm %q: C %s does not broadcast to %s", out, DimsString(c.Shape), DimsString(shape))
			return Value{}
		}
	}
	var attrs []*onnxpb.AttributeProto
	if a.Alpha != 0 && a.Alpha != 1 {
		attrs = append(attrs, floatAttr("alpha", a.Alpha))
	}
	if a.Beta != 0 && a.Beta != 1 {
		attrs = append(attrs, floatAttr("beta", a.Beta))
	}
	if a.TransA {
		attrs = append(attrs, intAttr("transA", 1))
	}
	if a.TransB {
		attrs = append(attrs, intAttr("transB", 1))
	}
	return b.op1("Gemm", out, x.Type, shape, ins, attrs...)
}

// MatMul is numpy's matmul of tensors of rank ≥ 2 (batch dimensions broadcast).
func (b *Builder) MatMul(out string, x, y Value) Value {
	if !b.check("MatMul", out, x, y) {
		return Value{}
	}
	rx, ry := len(x.Shape), len(y.Shape)
	if rx < 2 || ry < 2 || x.Shape[rx-1] != y.Shape[ry-2] {
		b.failf("MatMul %q: shapes %s and %s do not multiply", out, DimsString(x.Shape), DimsString(y.Shape))
		return Value{}
	}
	batch, ok := broadcast(x.Shape[:rx-2], y.Shape[:ry-2])
	if !ok {
		b.failf("MatMul %q: batch dimensions of %s and %s do not broadcast", out, DimsString(x.Shape), DimsString(y.Shape))
		return Value{}
	}
	return b.op1("MatMul", out, x.Type, append(batch, x.Shape[rx-2], y.Shape[ry-1]), []Value{x, y})
}

// OneHot turns int64 indices into float vectors of length depth (off
// elsewhere, on at the index), the new axis last.
func (b *Builder) OneHot(out string, indices Value, depth int64, off, on float32) Value {
	if !b.check("OneHot", out, indices) || !b.wantType("OneHot", out, indices, Int64) {
		return Value{}
	}
	if depth < 1 {
		b.failf("OneHot %q: depth %d", out, depth)
		return Value{}
	}
	vals := b.Initializer(out+".values", []int64{2}, []float32{off, on})
	shape := append(slices.Clone(indices.Shape), depth)
	return b.op1("OneHot", out, Float, shape, []Value{indices, b.Int64s(depth), vals}, intAttr("axis", -1))
}

// SoftmaxCrossEntropyLoss is the cross-entropy of softmax(scores [N,C])
// against int64 labels [N], averaged over the batch: a rank-0 loss called
// loss and, if logProb is not empty, the log-probabilities [N,C].
func (b *Builder) SoftmaxCrossEntropyLoss(loss, logProb string, scores, labels Value) (Value, Value) {
	if !b.check("SoftmaxCrossEntropyLoss", loss, scores, labels) || !b.wantRank("SoftmaxCrossEntropyLoss", loss, scores, 2) ||
		!b.wantType("SoftmaxCrossEntropyLoss", loss, labels, Int64) || !b.wantType("SoftmaxCrossEntropyLoss", loss, scores, Float) {
		return Value{}, Value{}
	}
	if !slices.Equal(labels.Shape, scores.Shape[:1]) {
		b.failf("SoftmaxCrossEntropyLoss %q: labels %s for scores %s", loss, DimsString(labels.Shape), DimsString(scores.Shape))
		return Value{}, Value{}
	}
	outs := []Value{{Name: loss, Type: Float, Shape: []int64{}}}
	if logProb != "" {
		outs = append(outs, Value{Name: logProb, Type: Float, Shape: scores.Shape})
	}
	b.node("SoftmaxCrossEntropyLoss", []Value{scores, labels}, []*onnxpb.AttributeProto{stringAttr("reduction", "mean")}, outs...)
	if b.err != nil {
		return Value{}, Value{}
	}
	if logProb == "" {
		return b.vals[loss], Value{}
	}
	return b.vals[loss], b.vals[logProb]
}

// ---- value infos ----

func valueInfoOf(v Value) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(v.Shape))}
	for i, d := range v.Shape {
		if d == Batch {
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
		} else {
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(v.Name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(v.Type)), Shape: shape}}}}
}
