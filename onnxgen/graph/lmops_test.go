package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// TestLMOpsShapes: the recurrent models' ops infer the documented types and
// shapes, the batch dimension included.
func TestLMOpsShapes(t *testing.T) {
	b := NewBuilder("t")
	tok := b.Input("tok", Int64, Batch)
	emb := b.Input("emb", Float, 10, 4)
	h := b.Input("h", Float, 2, Batch, 3)
	g := b.Gather("g", emb, tok)
	parts := b.Split("sp", b.Input("x", Float, Batch, 6), 1, 2, 4)
	tests := []struct {
		name      string // why the case exists
		v         Value
		wantType  DType
		wantShape []int64
	}{
		{"gather keeps the indices' batch", g, Float, []int64{Batch, 4}},
		{"tanh is elementwise", b.Tanh("th", g), Float, []int64{Batch, 4}},
		{"sigmoid is elementwise", b.Sigmoid("sg", g), Float, []int64{Batch, 4}},
		{"split sizes along axis 1", parts[1], Float, []int64{Batch, 4}},
		{"squeeze drops a 1", b.Squeeze("sq", b.Slice("hs", h, []int64{1}, []int64{2}, []int64{0}, nil), 0), Float, []int64{Batch, 3}},
		{"expand broadcasts a scalar", b.Expand("ex", b.Scalar("zero", 0), 10, 4), Float, []int64{10, 4}},
		{"scatter add keeps the data's shape", b.ScatterAdd("sc", b.Lookup1("ex"), b.Input("idx", Int64, 6, 4), b.Input("upd", Float, 6, 4)), Float, []int64{10, 4}},
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range tests {
		if c.v.Type != c.wantType || !slices.Equal(c.v.Shape, c.wantShape) {
			t.Errorf("%s: %v %s, want %v %s", c.name, c.v.Type, DimsString(c.v.Shape), c.wantType, DimsString(c.wantShape))
		}
	}
	if parts[0].Name != "sp.0" || parts[1].Name != "sp.1" {
		t.Errorf("split outputs %q, %q", parts[0].Name, parts[1].Name)
	}
}

// TestLMOpsErrors: each op refuses what ONNX would, with the op and its
// output in the message.
func TestLMOpsErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		op   func(b *Builder)
		want string
	}{
		{"gather with float indices", func(b *Builder) { b.Gather("g", b.Input("d", Float, 3, 2), b.Input("i", Float, 2)) }, `Gather "g"`},
		{"split sizes off the dimension", func(b *Builder) { b.Split("s", b.Input("x", Float, 2, 6), 1, 2, 2) }, `Split "s"`},
		{"split of the batch", func(b *Builder) { b.Split("s", b.Input("x", Float, Batch, 6), 0, 1, 1) }, `Split "s"`},
		{"squeeze of a 3", func(b *Builder) { b.Squeeze("q", b.Input("x", Float, 3, 2), 0) }, `Squeeze "q"`},
		{"expand that does not broadcast", func(b *Builder) { b.Expand("e", b.Input("x", Float, 3), 2, 4) }, `Expand "e"`},
		{"scatter with mismatched updates", func(b *Builder) {
			b.ScatterAdd("s", b.Input("d", Float, 5, 2), b.Input("i", Int64, 3, 2), b.Input("u", Float, 3, 1))
		}, `ScatterElements "s"`},
		{"scan body of the wrong arity", func(b *Builder) {
			body := NewBuilder("body")
			x := body.Input("bx", Float, 2)
			body.Output(body.Identity("by", x))
			b.Scan([]string{"s", "t"}, body, []Value{b.Input("h", Float, 2)}, []Value{b.Input("xs", Float, 5, 2)}, false)
		}, `Scan "s"`},
	} {
		b := NewBuilder("t")
		c.op(b)
		if err := b.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.want)
		}
	}
}

// TestScan: a Scan's outputs are the final states, then the body's values
// stacked along a new axis 0; the body reads an outer value without
// declaring it; its constants are renamed under the Scan's first output, and
// a reversed Scan says so for every scan input and output.
func TestScan(t *testing.T) {
	b := NewBuilder("t")
	w := b.Input("w", Float, 3)
	h0 := b.Input("h0", Float, Batch, 3)
	xs := b.Input("xs", Float, 7, Batch, 3)
	body := NewBuilder("body")
	h := body.Input("b.h", Float, Batch, 3)
	x := body.Input("b.x", Float, Batch, 3)
	bw := body.Outer(w)
	next := body.Add("b.next", body.Mul("b.hw", h, bw), body.Add("b.x1", x, body.Scalar("const.1", 1)))
	body.Output(next)
	body.Output(body.Identity("b.out", next))
	outs := b.Scan([]string{"h.last", "hs"}, body, []Value{h0}, []Value{xs}, true)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(outs[0].Shape, []int64{Batch, 3}) || !slices.Equal(outs[1].Shape, []int64{7, Batch, 3}) {
		t.Errorf("Scan shapes %s, %s", DimsString(outs[0].Shape), DimsString(outs[1].Shape))
	}
	b.Output(outs[1])
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	n := g.GetNode()[len(g.GetNode())-1]
	var sub *onnxpb.GraphProto
	var dirs int
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "body":
			sub = a.GetG()
		case "scan_input_directions", "scan_output_directions":
			dirs += len(a.GetInts())
		}
	}
	if sub == nil || dirs != 2 {
		t.Fatalf("Scan attributes %v", n.GetAttribute())
	}
	if got := sub.GetInitializer()[0].GetName(); got != "h.last/const.1" {
		t.Errorf("body constant named %q, want h.last/const.1", got)
	}
	if ins := sub.GetNode()[0].GetInput(); ins[1] != "w" {
		t.Errorf("body reads %v, want the outer w", ins)
	}
}
