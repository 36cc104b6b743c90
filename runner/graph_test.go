package runner_test

import (
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
	"google.golang.org/protobuf/proto"
)

// This file builds, with the onnxpb types directly, a softmax-regression child
// that follows the onnxgen/runner interface exactly: parameters head.fc.w
// [K,D] and head.fc.b [K]; a training-step graph with the gradient written by
// hand and the SGD-momentum update (PyTorch semantics); an evaluation graph;
// an inference graph. Each graph records its signature as it declares its
// inputs and outputs, the description the runner binds (child.Graph).

type graph struct {
	g               *onnxpb.GraphProto
	inputs, outputs []child.Tensor
}

// signature is the child.Tensor of a declared input or output: a string
// dimension ("N") is the batch.
func signature(name string, elem onnxpb.TensorProto_DataType, dims ...any) child.Tensor {
	t := child.Tensor{Name: name, Type: child.Float32}
	if elem == onnxpb.TensorProto_INT64 {
		t.Type = child.Int64
	}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			t.Shape = append(t.Shape, int64(d))
		case int64:
			t.Shape = append(t.Shape, d)
		case string:
			t.Shape = append(t.Shape, child.BatchDim)
		}
	}
	return t
}

func tensorType(elem onnxpb.TensorProto_DataType, dims ...any) *onnxpb.TypeProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case int64:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		case string:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		}
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(elem)), Shape: shape}}}
}

func (g *graph) input(name string, elem onnxpb.TensorProto_DataType, dims ...any) {
	g.g.Input = append(g.g.Input, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: tensorType(elem, dims...)})
	g.inputs = append(g.inputs, signature(name, elem, dims...))
}

func (g *graph) output(name string, elem onnxpb.TensorProto_DataType, dims ...any) {
	g.g.Output = append(g.g.Output, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: tensorType(elem, dims...)})
	g.outputs = append(g.outputs, signature(name, elem, dims...))
}

func (g *graph) floats(name string, data []float32, dims ...int64) {
	g.g.Initializer = append(g.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: data})
}

func (g *graph) ints(name string, data []int64, dims ...int64) {
	g.g.Initializer = append(g.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: data})
}

type attr = *onnxpb.AttributeProto

func intAttr(name string, v int64) attr {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func (g *graph) node(op string, ins, outs []string, attrs ...attr) {
	g.g.Node = append(g.g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(outs[0]),
		Input: ins, Output: outs, Attribute: attrs})
}

func (g *graph) model(t testing.TB) []byte {
	t.Helper()
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), ProducerName: proto.String("runner_test"), Graph: g.g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// childGraph is g serialized, with its signature.
func (g *graph) childGraph(t testing.TB) child.Graph {
	t.Helper()
	return child.Graph{Model: g.model(t), Inputs: g.inputs, Outputs: g.outputs}
}

// softmaxChild builds the three graphs of softmax regression over images of
// c×h×w with k classes; mu and wd are the momentum and weight decay baked
// into the training graph. Parameters start at w0, b0. The child's
// description is what the graph builders declared: batch inputs image and
// label, the learning rate lr, the states p → p.next (from the parameters)
// and p.mom → p.mom.next (from zero), the metrics loss (a mean that must
// stay finite) and correct (a count).
type softmaxChild struct {
	child child.Net
	infer []byte
}

func newSoftmaxChild(t testing.TB, c, h, w, k int, mu, wd float32, w0, b0 []float32) softmaxChild {
	t.Helper()
	return buildSoftmax(t, c, h, w, k, mu, wd, w0, b0, true)
}

// buildSoftmax is newSoftmaxChild; without biasMom, head.fc.b has no
// momentum buffer (plain SGD with weight decay: b' = b - lr*(g + wd*b)), like
// batch-norm statistics in onnxgen's graphs.
func buildSoftmax(t testing.TB, c, h, w, k int, mu, wd float32, w0, b0 []float32, biasMom bool) softmaxChild {
	t.Helper()
	hasMom := func(name string) bool { return biasMom || name != "head.fc.b" }
	d := c * h * w
	F, I := onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64
	params := []runner.Param{
		{Name: "head.fc.w", Shape: []int64{int64(k), int64(d)}, Data: w0},
		{Name: "head.fc.b", Shape: []int64{int64(k)}, Data: b0},
	}

	// forward adds image→logits, loss (shape [1]), correct ([1]) and the
	// log-probabilities to g.
	forward := func(g *graph) {
		g.ints("one_shape", []int64{1}, 1)
		g.node("Flatten", []string{"image"}, []string{"x"}, intAttr("axis", 1))
		g.node("Gemm", []string{"x", "head.fc.w", "head.fc.b"}, []string{"logits"}, intAttr("transB", 1))
		g.node("SoftmaxCrossEntropyLoss", []string{"logits", "label"}, []string{"loss0", "logp"})
		g.node("Reshape", []string{"loss0", "one_shape"}, []string{"loss"})
		g.node("ArgMax", []string{"logits"}, []string{"pred"}, intAttr("axis", 1), intAttr("keepdims", 0))
		g.node("Equal", []string{"pred", "label"}, []string{"hit"})
		g.node("Cast", []string{"hit"}, []string{"hit64"}, intAttr("to", int64(I)))
		g.node("ReduceSum", []string{"hit64"}, []string{"correct"}, intAttr("keepdims", 1))
	}

	tg := &graph{g: &onnxpb.GraphProto{Name: proto.String("softmax_train")}}
	tg.input("image", F, "N", c, h, w)
	tg.input("label", I, "N")
	tg.input("lr", F, 1)
	for _, p := range params {
		tg.input(p.Name, F, dimsAny(p.Shape)...)
	}
	for _, p := range params {
		if hasMom(p.Name) {
			tg.input(p.Name+".mom", F, dimsAny(p.Shape)...)
		}
	}
	forward(tg)
	tg.ints("depth", []int64{int64(k)}, 1)
	tg.floats("onehot_values", []float32{0, 1}, 2)
	tg.ints("axis0", []int64{0}, 1)
	tg.floats("mu", []float32{mu}, 1)
	tg.floats("wd", []float32{wd}, 1)
	tg.node("Exp", []string{"logp"}, []string{"prob"})
	tg.node("OneHot", []string{"label", "depth", "onehot_values"}, []string{"onehot"}, intAttr("axis", -1))
	tg.node("Sub", []string{"prob", "onehot"}, []string{"diff"})
	tg.node("Shape", []string{"label"}, []string{"n64"})
	tg.node("Cast", []string{"n64"}, []string{"n"}, intAttr("to", int64(F)))
	tg.node("Div", []string{"diff", "n"}, []string{"dlogits"})
	tg.node("Gemm", []string{"dlogits", "x"}, []string{"head.fc.w.grad"}, intAttr("transA", 1))
	tg.node("ReduceSum", []string{"dlogits", "axis0"}, []string{"head.fc.b.grad"}, intAttr("keepdims", 0))
	for _, p := range params {
		n := p.Name
		tg.node("Mul", []string{"wd", n}, []string{n + ".decay"})
		tg.node("Add", []string{n + ".grad", n + ".decay"}, []string{n + ".d"})
		if !hasMom(n) {
			tg.node("Mul", []string{"lr", n + ".d"}, []string{n + ".step"})
			tg.node("Sub", []string{n, n + ".step"}, []string{n + ".next"})
			continue
		}
		tg.node("Mul", []string{"mu", n + ".mom"}, []string{n + ".mom.scaled"})
		tg.node("Add", []string{n + ".mom.scaled", n + ".d"}, []string{n + ".mom.next"})
		tg.node("Mul", []string{"lr", n + ".mom.next"}, []string{n + ".step"})
		tg.node("Sub", []string{n, n + ".step"}, []string{n + ".next"})
	}
	tg.output("loss", F, 1)
	tg.output("correct", I, 1)
	for _, p := range params {
		tg.output(p.Name+".next", F, dimsAny(p.Shape)...)
	}
	for _, p := range params {
		if hasMom(p.Name) {
			tg.output(p.Name+".mom.next", F, dimsAny(p.Shape)...)
		}
	}

	eg := &graph{g: &onnxpb.GraphProto{Name: proto.String("softmax_eval")}}
	eg.input("image", F, "N", c, h, w)
	eg.input("label", I, "N")
	for _, p := range params {
		eg.input(p.Name, F, dimsAny(p.Shape)...)
	}
	forward(eg)
	eg.output("loss", F, 1)
	eg.output("correct", I, 1)

	ig := &graph{g: &onnxpb.GraphProto{Name: proto.String("softmax_infer")}}
	ig.input("image", F, "N", c, h, w)
	for _, p := range params {
		ig.floats(p.Name, p.Data, p.Shape...)
	}
	ig.node("Flatten", []string{"image"}, []string{"x"}, intAttr("axis", 1))
	ig.node("Gemm", []string{"x", "head.fc.w", "head.fc.b"}, []string{"logits"}, intAttr("transB", 1))
	ig.output("logits", F, "N", k)

	net := child.Net{
		Train:            tg.childGraph(t),
		Eval:             eg.childGraph(t),
		Params:           params,
		Batch:            []string{"image", "label"},
		LR:               "lr",
		Metrics:          []child.Metric{{Name: "loss", Reduce: child.Mean, Finite: true}, {Name: "correct", Reduce: child.Sum}},
		ActivationFloats: int64(d + 4*k),
	}
	for i, p := range params {
		net.State = append(net.State, child.State{Input: p.Name, Output: p.Name + ".next", Param: i})
	}
	for _, p := range params {
		if hasMom(p.Name) {
			net.State = append(net.State, child.State{Input: p.Name + ".mom", Output: p.Name + ".mom.next", Param: -1})
		}
	}
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	return softmaxChild{child: net, infer: ig.model(t)}
}

func dimsAny(s []int64) []any {
	out := make([]any, len(s))
	for i, d := range s {
		out[i] = d
	}
	return out
}
