package graph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// Text prints a model readably, from the ModelProto alone, in a subset of
// the ONNX textual syntax:
//
//	<
//	  ir_version: 8,
//	  opset_import: ["" : 17],
//	  producer_name: "nas"
//	>
//	nas.infer (float[N,3,8,8] image) => (float[N,10] logits)
//	<float[16,3,3,3] l0.conv.w, ...>
//	{
//	  l0.conv = Conv <kernel_shape = [3,3], pads = [1,1,1,1], strides = [1,1]> (image, l0.conv.w, l0.conv.b)
//	  ...
//	}
//
// Initializers are printed as type and shape only, never their data; an
// initializer that is a small int64 constant (at most 8 values) shows its
// values (" = {0,2,3}"), since it is part of the graph's structure.
// Attributes are sorted by name. The output depends only on the model.
func Text(m *onnxpb.ModelProto) string {
	var s strings.Builder
	s.WriteString("<\n")
	fmt.Fprintf(&s, "  ir_version: %d,\n", m.GetIrVersion())
	var ops []string
	for _, o := range m.GetOpsetImport() {
		ops = append(ops, fmt.Sprintf("%q : %d", o.GetDomain(), o.GetVersion()))
	}
	fmt.Fprintf(&s, "  opset_import: [%s],\n", strings.Join(ops, ", "))
	fmt.Fprintf(&s, "  producer_name: %q\n>\n", m.GetProducerName())
	g := m.GetGraph()
	sig := func(vs []*onnxpb.ValueInfoProto) string {
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = typeText(v.GetType()) + " " + v.GetName()
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(&s, "%s (%s)\n  => (%s)\n", g.GetName(), sig(g.GetInput()), sig(g.GetOutput()))
	s.WriteString("<\n")
	for i, t := range g.GetInitializer() {
		fmt.Fprintf(&s, "  %s[%s] %s", typeName(onnxpb.TensorProto_DataType(t.GetDataType())), joinInts(t.GetDims()), t.GetName())
		if t.GetDataType() == int32(onnxpb.TensorProto_INT64) && len(t.GetInt64Data()) <= 8 {
			fmt.Fprintf(&s, " = {%s}", joinInts(t.GetInt64Data()))
		}
		if i < len(g.GetInitializer())-1 {
			s.WriteByte(',')
		}
		s.WriteByte('\n')
	}
	s.WriteString(">\n{\n")
	for _, n := range g.GetNode() {
		s.WriteString("  ")
		s.WriteString(strings.Join(n.GetOutput(), ", "))
		s.WriteString(" = ")
		if n.GetDomain() != "" {
			s.WriteString(n.GetDomain() + ".")
		}
		s.WriteString(n.GetOpType())
		if attrs := n.GetAttribute(); len(attrs) > 0 {
			sorted := slices.Clone(attrs)
			slices.SortFunc(sorted, func(a, b *onnxpb.AttributeProto) int { return strings.Compare(a.GetName(), b.GetName()) })
			parts := make([]string, len(sorted))
			for i, a := range sorted {
				parts[i] = a.GetName() + " = " + attrText(a)
			}
			s.WriteString(" <" + strings.Join(parts, ", ") + ">")
		}
		s.WriteString(" (" + strings.Join(n.GetInput(), ", ") + ")\n")
	}
	s.WriteString("}\n")
	return s.String()
}

func typeName(t onnxpb.TensorProto_DataType) string {
	switch t {
	case onnxpb.TensorProto_FLOAT:
		return "float"
	case onnxpb.TensorProto_INT64:
		return "int64"
	case onnxpb.TensorProto_BOOL:
		return "bool"
	case onnxpb.TensorProto_INT32:
		return "int32"
	case onnxpb.TensorProto_DOUBLE:
		return "double"
	}
	return strings.ToLower(t.String())
}

func typeText(t *onnxpb.TypeProto) string {
	tt := t.GetTensorType()
	if tt == nil {
		return "?"
	}
	dims := make([]string, len(tt.GetShape().GetDim()))
	for i, d := range tt.GetShape().GetDim() {
		if p := d.GetDimParam(); p != "" {
			dims[i] = p
		} else {
			dims[i] = strconv.FormatInt(d.GetDimValue(), 10)
		}
	}
	return typeName(onnxpb.TensorProto_DataType(tt.GetElemType())) + "[" + strings.Join(dims, ",") + "]"
}

func joinInts(v []int64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(parts, ",")
}

func attrText(a *onnxpb.AttributeProto) string {
	switch a.GetType() {
	case onnxpb.AttributeProto_INT:
		return strconv.FormatInt(a.GetI(), 10)
	case onnxpb.AttributeProto_INTS:
		return "[" + joinInts(a.GetInts()) + "]"
	case onnxpb.AttributeProto_FLOAT:
		return strconv.FormatFloat(float64(a.GetF()), 'g', -1, 32)
	case onnxpb.AttributeProto_FLOATS:
		parts := make([]string, len(a.GetFloats()))
		for i, f := range a.GetFloats() {
			parts[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case onnxpb.AttributeProto_STRING:
		return strconv.Quote(string(a.GetS()))
	}
	return "?" + a.GetType().String()
}
