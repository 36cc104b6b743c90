package onnxgen

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// trainTestArch has strides, a zero-padded skip and two head inputs.
const trainTestArch = "kh3 kw3 sh2 sw2 f4 | kh1 kw7 f3 | kh3 kw1 f2 in0 in1"

func valueNames(vs []*onnxpb.ValueInfoProto) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.GetName())
	}
	return out
}

// signature is the description of ONNX value infos: name, element type,
// shape (-1 for a symbolic dimension).
func signature(vs []*onnxpb.ValueInfoProto) []child.Tensor {
	var out []child.Tensor
	for _, v := range vs {
		tt := v.GetType().GetTensorType()
		t := child.Tensor{Name: v.GetName(), Type: child.Float32}
		if tt.GetElemType() == int32(onnxpb.TensorProto_INT64) {
			t.Type = child.Int64
		}
		for _, d := range tt.GetShape().GetDim() {
			if d.GetDimParam() != "" {
				t.Shape = append(t.Shape, child.BatchDim)
			} else {
				t.Shape = append(t.Shape, d.GetDimValue())
			}
		}
		out = append(out, t)
	}
	return out
}

// TestTrainGraphSignature: the training and evaluation graphs take exactly
// the parameters InitParams gives, in its order and shapes; CompileNet's
// description is exactly the signature of the graphs it serializes (names,
// types, shapes), with a state pair per parameter and per momentum buffer;
// only standard-domain ops are used.
func TestTrainGraphSignature(t *testing.T) {
	a, err := Parse(trainTestArch)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{3, 8, 8}
	for _, bn := range []bool{false, true} {
		opts := Options{Seed: 1, BatchNorm: bn}
		params, err := InitParams(a, in, 5, opts)
		if err != nil {
			t.Fatal(err)
		}
		m, err := CompileTrain(a, in, 5, TrainOptions{Options: opts, Momentum: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		if err := graph.CheckOrder(m.GetGraph()); err != nil {
			t.Errorf("bn=%v: %v", bn, err)
		}
		net, err := CompileNet(a, in, 5, TrainOptions{Options: opts, Momentum: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(params, net.Params); d != "" {
			t.Errorf("bn=%v: CompileNet's parameters (-InitParams +CompileNet):\n%s", bn, d)
		}
		for _, g := range []struct {
			name string
			desc child.Graph
			m    *onnxpb.ModelProto
		}{{"training", net.Train, m}, {"evaluation", net.Eval, nil}} {
			var back onnxpb.ModelProto
			if err := proto.Unmarshal(g.desc.Model, &back); err != nil {
				t.Fatal(err)
			}
			if g.m != nil && !proto.Equal(&back, g.m) {
				t.Errorf("bn=%v: CompileNet's %s graph differs from CompileTrain's", bn, g.name)
			}
			if d := cmp.Diff(signature(back.GetGraph().GetInput()), g.desc.Inputs); d != "" {
				t.Errorf("bn=%v: %s inputs (-graph +description):\n%s", bn, g.name, d)
			}
			if d := cmp.Diff(signature(back.GetGraph().GetOutput()), g.desc.Outputs); d != "" {
				t.Errorf("bn=%v: %s outputs (-graph +description):\n%s", bn, g.name, d)
			}
		}
		ins, outs := []string{"image", "label", "lr"}, []string{"loss", "correct"}
		var state []child.State
		for i, p := range params {
			ins, outs = append(ins, p.Name), append(outs, p.Name+".next")
			state = append(state, child.State{Input: p.Name, Output: p.Name + ".next", Param: i})
		}
		for _, p := range params {
			if !strings.HasSuffix(p.Name, ".bn.mean") && !strings.HasSuffix(p.Name, ".bn.var") {
				ins, outs = append(ins, p.Name+".mom"), append(outs, p.Name+".mom.next")
				state = append(state, child.State{Input: p.Name + ".mom", Output: p.Name + ".mom.next", Param: -1})
			}
		}
		if d := cmp.Diff(ins, valueNames(m.GetGraph().GetInput())); d != "" {
			t.Errorf("bn=%v: inputs (-want +graph):\n%s", bn, d)
		}
		if d := cmp.Diff(outs, valueNames(m.GetGraph().GetOutput())); d != "" {
			t.Errorf("bn=%v: outputs (-want +graph):\n%s", bn, d)
		}
		if d := cmp.Diff(state, net.State); d != "" {
			t.Errorf("bn=%v: state pairs (-want +CompileNet):\n%s", bn, d)
		}
		if bn != slices.Contains(ins, "l2.bn.var") || slices.Contains(ins, "l2.bn.var.mom") {
			t.Errorf("bn=%v: inputs %v: want l2.bn.var exactly with batch norm, never a buffer for it", bn, ins)
		}
		for i, p := range params {
			var got []int64
			for _, d := range m.GetGraph().GetInput()[3+i].GetType().GetTensorType().GetShape().GetDim() {
				got = append(got, d.GetDimValue())
			}
			if !slices.Equal(got, p.Shape) {
				t.Errorf("bn=%v: %s: graph shape %v, parameter shape %v", bn, p.Name, got, p.Shape)
			}
		}
		for _, n := range m.GetGraph().GetNode() {
			if n.GetDomain() != "" {
				t.Errorf("node %s uses domain %q: only standard ops run on stock ORT", n.GetName(), n.GetDomain())
			}
		}
		e, err := CompileEval(a, in, 5, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"image", "label"}
		for _, p := range params {
			want = append(want, p.Name)
		}
		if d := cmp.Diff(want, valueNames(e.GetGraph().GetInput())); d != "" {
			t.Errorf("bn=%v: evaluation inputs (-want +got):\n%s", bn, d)
		}
		if d := cmp.Diff([]string{"loss", "correct"}, valueNames(e.GetGraph().GetOutput())); d != "" {
			t.Errorf("bn=%v: evaluation outputs (-want +got):\n%s", bn, d)
		}
	}
}

// TestSkipImageInputGrad: a layer fed by the image only gets no input
// gradient; a stride-1 layer's is a Conv (flipped kernel), a strided one's a
// ConvTranspose.
func TestSkipImageInputGrad(t *testing.T) {
	a, err := Parse("kh3 kw3 f4 | kh3 kw3 sh2 sw2 f3 in0 | kh1 kw1 f2 in0 in1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := CompileTrain(a, Input{3, 8, 8}, 5, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range m.GetGraph().GetNode() {
		if o := n.GetOutput()[0]; strings.HasSuffix(o, ".conv.in.grad") {
			got = append(got, o+"="+n.GetOpType())
		}
	}
	if d := cmp.Diff([]string{"l2.conv.in.grad=Conv", "l1.conv.in.grad=ConvTranspose"}, got); d != "" {
		t.Errorf("input gradients (-want +got):\n%s", d)
	}
}

func TestTransposedEnd(t *testing.T) {
	for _, c := range []struct {
		out, s, k, begin, in int
		end, outPad          int
		why                  string
	}{
		{4, 2, 3, 0, 8, 1, 0, "8 rows, k3 s2: 'same' pads 0 top, 1 bottom"},
		{4, 2, 1, 0, 8, 0, 1, "k1 s2 reads rows 0,2,4,6: row 7 needs output_padding"},
		{3, 3, 5, 1, 9, 1, 0, "9 rows, k5 s3: pads 1 and 1, cropped"},
		{3, 3, 1, 0, 9, 0, 2, "k1 s3 never reads rows 7, 8"},
	} {
		end, op := transposedEnd(c.out, c.s, c.k, c.begin, c.in)
		if end != c.end || op != c.outPad {
			t.Errorf("%s: end, output_padding = %d, %d; want %d, %d", c.why, end, op, c.end, c.outPad)
		}
	}
}

func TestTrainOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o   TrainOptions
		ok  bool
		why string
	}{
		{TrainOptions{}, true, "zero values: plain SGD, no weight decay"},
		{TrainOptions{Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true}, true, "the paper's setting"},
		{TrainOptions{Momentum: 1}, false, "momentum 1 never forgets"},
		{TrainOptions{Momentum: -0.1}, false, "negative momentum"},
		{TrainOptions{WeightDecay: -1e-4}, false, "negative weight decay"},
		{TrainOptions{WeightDecay: float32(math.NaN())}, false, "NaN weight decay"},
		{TrainOptions{Nesterov: true}, false, "Nesterov without momentum (PyTorch rejects it too)"},
		{TrainOptions{Options: Options{BNEpsilon: -1}}, false, "the embedded Options are validated"},
	} {
		if err := c.o.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v; want ok %v (%s)", c.o, err, c.ok, c.why)
		} else if err != nil && !strings.HasPrefix(err.Error(), "onnxgen: ") {
			t.Errorf("%+v: error %q lacks the package prefix", c.o, err)
		}
	}
}

func TestCompileTrainErrors(t *testing.T) {
	a := Arch{Layers: []Layer{{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 4}}}
	for _, c := range []struct {
		a       Arch
		in      Input
		classes int
		o       TrainOptions
		want    string
	}{
		{a, Input{3, 8, 8}, 1, TrainOptions{}, "onnxgen: 1 classes"},
		{a, Input{0, 8, 8}, 5, TrainOptions{}, "onnxgen: input"},
		{a, Input{3, 8, 8}, 5, TrainOptions{Momentum: 2}, "onnxgen: momentum"},
		{Arch{Layers: []Layer{{KH: 3, KW: 3, SH: 3, SW: 3, Filters: 4}}}, Input{3, 2, 2}, 5, TrainOptions{}, "onnxgen: layer 0: stride"},
	} {
		if _, err := CompileTrain(c.a, c.in, c.classes, c.o); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("CompileTrain(%v, %v, %d, %+v) = %v; want an error starting %q", c.a, c.in, c.classes, c.o, err, c.want)
		}
		if c.o.Momentum == 0 {
			if _, err := CompileEval(c.a, c.in, c.classes, c.o.Options); err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("CompileEval(%v, %v, %d) = %v; want an error starting %q", c.a, c.in, c.classes, err, c.want)
			}
		}
	}
}
