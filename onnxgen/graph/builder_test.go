package graph

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestBuilderShapes: each op infers the output type and shape it is
// documented to, the batch dimension included.
func TestBuilderShapes(t *testing.T) {
	b := NewBuilder("t")
	x := b.Input("x", Float, Batch, 3, 8, 6)
	lab := b.Input("label", Int64, Batch)
	w := b.Initializer("w", []int64{4, 3, 3, 1}, make([]float32, 36))
	bias := b.Initializer("bias", []int64{4}, make([]float32, 4))
	m := b.Initializer("m", []int64{5, 4}, make([]float32, 20))
	tests := []struct {
		name      string // why the case exists
		v         Value
		wantType  DType
		wantShape []int64
	}{
		{"conv keeps the batch, 'same' pads", b.Conv("c", x, w, bias, ConvAttrs{Pads: []int64{1, 0, 1, 0}}), Float, []int64{Batch, 4, 8, 6}},
		{"strided conv without bias, asymmetric pads", b.Conv("c2", x, w, Value{}, ConvAttrs{Strides: []int64{3, 2}, Pads: []int64{0, 0, 1, 0}}), Float, []int64{Batch, 4, 3, 3}},
		{"conv transpose inverts the strided conv's size", b.ConvTranspose("ct", b.Lookup1("c2"), w, ConvAttrs{Strides: []int64{3, 2}, Pads: []int64{0, 0, 1, 0}, OutputPadding: []int64{0, 1}}), Float, []int64{Batch, 3, 8, 6}},
		{"relu is elementwise", b.Relu("r", b.Lookup1("c")), Float, []int64{Batch, 4, 8, 6}},
		{"pad bottom/right", b.Pad("p", b.Lookup1("c2"), 0, 0, 0, 0, 0, 0, 5, 3), Float, []int64{Batch, 4, 8, 6}},
		{"concat sums the channels", b.Concat("cat", 1, b.Lookup1("r"), b.Lookup1("p")), Float, []int64{Batch, 8, 8, 6}},
		{"global average pool", b.GlobalAveragePool("gap", b.Lookup1("cat")), Float, []int64{Batch, 8, 1, 1}},
		{"flatten keeps a lone batch dim", b.Flatten("flat", b.Lookup1("gap"), 1), Float, []int64{Batch, 8}},
		{"reshape copies the batch with 0, infers -1", b.Reshape("rs", b.Lookup1("cat"), 0, 4, -1), Float, []int64{Batch, 4, 96}},
		{"transpose permutes", b.Transpose("tr", b.Lookup1("cat"), 1, 0, 3, 2), Float, []int64{8, Batch, 6, 8}},
		{"unsqueeze inserts ones", b.Unsqueeze("us", b.Lookup1("flat"), 2, 3), Float, []int64{Batch, 8, 1, 1}},
		{"slice channels and rows", b.Slice("sl", b.Lookup1("cat"), []int64{4, 0}, []int64{8, 5}, []int64{1, 2}, nil), Float, []int64{Batch, 4, 5, 6}},
		{"slice reversed to the start", b.Slice("rev", w, []int64{-1}, []int64{math.MinInt64}, []int64{2}, []int64{-1}), Float, []int64{4, 3, 3, 1}},
		{"reduce sum over batch and space", b.ReduceSum("rsum", b.Lookup1("cat"), false, 0, 2, 3), Float, []int64{8}},
		{"reduce mean keeps dims", b.ReduceMean("rmean", b.Lookup1("cat"), true, 0, 2, 3), Float, []int64{1, 8, 1, 1}},
		{"gemm with transB and broadcast bias", b.Gemm("gemm", b.Lookup1("flat"), b.Initializer("fw", []int64{5, 8}, make([]float32, 40)), b.Initializer("fb", []int64{5}, make([]float32, 5)), GemmAttrs{TransB: true}), Float, []int64{Batch, 5}},
		{"gemm with transA contracts the batch", b.Gemm("gemmA", b.Lookup1("gemm"), b.Lookup1("flat"), Value{}, GemmAttrs{TransA: true}), Float, []int64{5, 8}},
		{"matmul", b.MatMul("mm", b.Lookup1("gemm"), m), Float, []int64{Batch, 4}},
		{"batched matmul broadcasts", b.MatMul("bmm", b.Lookup1("rs"), b.Initializer("k", []int64{96, 2}, make([]float32, 192))), Float, []int64{Batch, 4, 2}},
		{"add broadcasts [N,5] and [5]", b.Add("add", b.Lookup1("gemm"), b.Lookup1("fb")), Float, []int64{Batch, 5}},
		{"greater is bool", b.Greater("gt", b.Lookup1("add"), b.Scalar("zero", 0)), Bool, []int64{Batch, 5}},
		{"where takes x's type", b.Where("wh", b.Lookup1("gt"), b.Lookup1("add"), b.Lookup1("zero")), Float, []int64{Batch, 5}},
		{"onehot appends the depth", b.OneHot("oh", lab, 5, 0, 1), Float, []int64{Batch, 5}},
		{"argmax is int64", b.ArgMax("am", b.Lookup1("gemm"), 1, false), Int64, []int64{Batch}},
		{"equal on int64", b.Equal("eq", b.Lookup1("am"), lab), Bool, []int64{Batch}},
		{"cast", b.Cast("cast", b.Lookup1("eq"), Int64), Int64, []int64{Batch}},
		{"sum of three", b.Sum("sum3", b.Lookup1("add"), b.Lookup1("wh"), b.Lookup1("fb")), Float, []int64{Batch, 5}},
		{"batch norm keeps the shape", b.BatchNormalization("bn", b.Lookup1("c"), bias, bias, bias, bias, 1e-5, 0.9), Float, []int64{Batch, 4, 8, 6}},
		{"max pool floors odd sizes", b.MaxPool("mp", b.Lookup1("c"), 2, 2), Float, []int64{Batch, 4, 4, 3}},
		{"max pool 3x3 stride 3", b.MaxPool("mp3", x, 3, 3), Float, []int64{Batch, 3, 2, 2}},
		{"space to depth moves tiles to channels", b.SpaceToDepth("s2d", b.Lookup1("c"), 2), Float, []int64{Batch, 16, 4, 3}},
		{"depth to space inverts it", b.DepthToSpace("d2s", b.Lookup1("s2d"), 2), Float, []int64{Batch, 4, 8, 6}},
		{"exp, log, sqrt, reciprocal, identity", b.Identity("id", b.Reciprocal("rc", b.Sqrt("sq", b.Log("lg", b.Exp("ex", b.Lookup1("gemm")))))), Float, []int64{Batch, 5}},
	}
	loss, lp := b.SoftmaxCrossEntropyLoss("loss", "logp", b.Lookup1("gemm"), lab)
	tests = append(tests,
		struct {
			name      string
			v         Value
			wantType  DType
			wantShape []int64
		}{"cross-entropy loss is rank 0", loss, Float, []int64{}},
		struct {
			name      string
			v         Value
			wantType  DType
			wantShape []int64
		}{"log-probabilities keep the scores' shape", lp, Float, []int64{Batch, 5}})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if tt.v.Type != tt.wantType || !slices.Equal(tt.v.Shape, tt.wantShape) {
			t.Errorf("%s: %q is %s%s, want %s%s", tt.name, tt.v.Name, typeName(tt.v.Type), DimsString(tt.v.Shape), typeName(tt.wantType), DimsString(tt.wantShape))
		}
	}
	b.Output(loss)
	m2, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckOrder(m2.GetGraph()); err != nil {
		t.Error(err)
	}
	if m2.GetIrVersion() != 8 || m2.GetOpsetImport()[0].GetVersion() != 17 || m2.GetProducerName() != "nas" {
		t.Errorf("model header: ir %d opset %v producer %q", m2.GetIrVersion(), m2.GetOpsetImport(), m2.GetProducerName())
	}
}

// Lookup1 is Lookup for tests: the value, or the zero Value.
func (b *Builder) Lookup1(name string) Value {
	v, _ := b.Lookup(name)
	return v
}

// TestBuilderErrors: shape and type errors are caught when the op is added,
// the first error sticks, and later ops add nothing.
func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name  string // why the case exists
		build func(b *Builder, x, w Value)
		want  string
	}{
		{"conv channels must match the weight", func(b *Builder, x, w Value) {
			b.Conv("c", x, b.Initializer("w2", []int64{4, 2, 3, 3}, make([]float32, 72)), Value{}, ConvAttrs{})
		}, `Conv "c": input [N,3,8,8], weight [4,2,3,3], group 1: channels do not match`},
		{"kernel larger than the padded input", func(b *Builder, x, w Value) {
			b.Conv("c", b.Slice("s", x, []int64{0}, []int64{2}, []int64{2}, nil), w, Value{}, ConvAttrs{})
		}, `does not fit input [N,3,2,8]`},
		{"concat needs equal spatial sizes", func(b *Builder, x, w Value) {
			b.Concat("cat", 1, x, b.Pad("p", x, 0, 0, 0, 0, 0, 0, 1, 0))
		}, `Concat "cat": "p" [N,3,9,8] does not match [N,3,8,8] on axis 1`},
		{"padding the batch dimension", func(b *Builder, x, w Value) { b.Pad("p", x, 1, 0, 0, 0, 0, 0, 0, 0) }, `Pad "p": pads`},
		{"broadcast mismatch", func(b *Builder, x, w Value) { b.Add("a", x, w) }, `Add "a": shapes [N,3,8,8] and [4,3,3,3] do not broadcast`},
		{"batch against a number", func(b *Builder, x, w Value) {
			b.Add("a", x, b.Initializer("v", []int64{2, 1, 1, 1}, make([]float32, 2)))
		}, `do not broadcast`},
		{"types must agree", func(b *Builder, x, w Value) { b.Add("a", x, b.Cast("i", x, Int64)) }, `Add "a": "image" is float, "i" is int64`},
		{"names are unique", func(b *Builder, x, w Value) { b.Relu("image", x) }, `value "image" defined twice`},
		{"a value of another builder", func(b *Builder, x, w Value) {
			b.Relu("r", Value{Name: "ghost", Type: Float, Shape: []int64{1}})
		}, `Relu "r": input 0 ("ghost") is not a value of this graph`},
		{"the batch cannot be flattened into features", func(b *Builder, x, w Value) { b.Flatten("f", x, 2) }, `cannot flatten the batch dimension`},
		{"reshape may not move the batch", func(b *Builder, x, w Value) { b.Reshape("r", x, -1, 8) }, `moves the batch dimension`},
		{"initializer data must fill its shape", func(b *Builder, x, w Value) { b.Initializer("v", []int64{2, 3}, make([]float32, 5)) }, `initializer "v": 5 values for shape [2,3]`},
		{"a constant cannot change", func(b *Builder, x, w Value) { b.Scalar("k", 1); b.Scalar("k", 2) }, `constant "k" redefined`},
		{"gemm inner dimensions", func(b *Builder, x, w Value) {
			b.Gemm("g", b.Flatten("f", x, 1), w, Value{}, GemmAttrs{})
		}, `Gemm "g": "w" has shape [4,3,3,3], want rank 2`},
		{"a pool larger than the map", func(b *Builder, x, w Value) {
			b.MaxPool("mp", b.Slice("s", x, []int64{0}, []int64{1}, []int64{2}, nil), 2, 2)
		}, `MaxPool "mp": kernel 2, stride 2 on input [N,3,1,8]`},
		{"space to depth needs whole tiles", func(b *Builder, x, w Value) { b.SpaceToDepth("s", x, 3) }, `SpaceToDepth "s": block 3 on input [N,3,8,8]`},
		{"depth to space needs block² channels", func(b *Builder, x, w Value) { b.DepthToSpace("d", x, 2) }, `DepthToSpace "d": block 2 on input [N,3,8,8]`},
		{"transpose needs a permutation", func(b *Builder, x, w Value) { b.Transpose("t", x, 0, 1, 1, 2) }, `perm [0 1 1 2]`},
		{"loss labels must be int64", func(b *Builder, x, w Value) {
			f := b.Flatten("f", x, 1)
			b.SoftmaxCrossEntropyLoss("l", "", f, b.ArgMax("a", f, 1, true))
		}, `labels [N,1] for scores [N,192]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder("t")
			x := b.Input("image", Float, Batch, 3, 8, 8)
			w := b.Initializer("w", []int64{4, 3, 3, 3}, make([]float32, 108))
			tt.build(b, x, w)
			err := b.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "onnxgen: ") {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			nodes := len(b.nodes)
			if v := b.Relu("after", x); v.Name != "" || len(b.nodes) != nodes || b.Err() != err {
				t.Errorf("an op after the error added %v (%d nodes, was %d), error now %v", v, len(b.nodes), nodes, b.Err())
			}
			if _, merr := b.Model(); merr != err {
				t.Errorf("Model error %v, want the sticky %v", merr, err)
			}
		})
	}
}

func TestBuilderNoOutput(t *testing.T) {
	b := NewBuilder("empty")
	b.Relu("r", b.Input("x", Float, 2))
	if _, err := b.Model(); err == nil || !strings.Contains(err.Error(), "no output") {
		t.Errorf("Model without outputs: %v", err)
	}
}

// TestInt64sShared: equal int64 constants are one initializer.
func TestInt64sShared(t *testing.T) {
	b := NewBuilder("t")
	x := b.Input("x", Float, Batch, 2, 3, 3)
	b.ReduceSum("a", x, false, 0, 2, 3)
	b.ReduceSum("b", x, true, 0, 2, 3)
	if len(b.inits) != 1 || b.inits[0].GetName() != "const.i.0.2.3" {
		t.Errorf("initializers %v, want one const.i.0.2.3", b.inits)
	}
}
