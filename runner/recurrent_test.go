package runner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
)

// counterChild is the smallest recurrent child: a hidden state h [n,1]
// that adds up its inputs, h' = h + x, in both graphs; the metric is the
// mean of h'. Its one parameter w [1] is carried unchanged. What the metric
// reads shows the order the runner visited the examples in and whether h
// was carried and reset.
func counterChild(t *testing.T, n int) child.Net {
	F := onnxpb.TensorProto_FLOAT
	build := func(train bool) child.Graph {
		g := &graph{g: &onnxpb.GraphProto{Name: ptr("counter")}}
		g.input("x", F, n, 1)
		if train {
			g.input("lr", F, 1)
		}
		g.input("w", F, 1)
		g.input("h", F, n, 1)
		g.node("Add", []string{"h", "x"}, []string{"h.next"})
		g.node("ReduceMean", []string{"h.next"}, []string{"loss.s"}, intAttr("keepdims", 0))
		g.node("Reshape", []string{"loss.s", "one"}, []string{"loss"})
		g.ints("one", []int64{1}, 1)
		g.output("loss", F, 1)
		if train {
			g.node("Identity", []string{"w"}, []string{"w.next"})
			g.output("w.next", F, 1)
		}
		g.output("h.next", F, n, 1)
		return g.childGraph(t)
	}
	return child.Net{
		Train:      build(true),
		Eval:       build(false),
		Params:     []child.Param{{Name: "w", Shape: []int64{1}, Data: []float32{0}}},
		Batch:      []string{"x"},
		LR:         "lr",
		State:      []child.State{{Input: "w", Output: "w.next", Param: 0}, {Input: "h", Output: "h.next", Param: -1, Reset: true}},
		EvalState:  []child.State{{Input: "h", Output: "h.next", Param: -1}},
		Sequential: true,
		Metrics:    []child.Metric{{Name: "loss", Reduce: child.Mean, Finite: true}},
	}
}

func ptr[T any](v T) *T { return &v }

// counting is a Source of len examples, example i being the value i.
type counting int

func (c counting) Len() int { return int(c) }
func (c counting) Fill(idx []int, dst []child.Column) {
	for r, i := range idx {
		dst[0].F32[r] = float32(i)
	}
}

// TestRecurrentState: a Sequential child sees its examples in order, its
// Reset state carried from batch to batch and zeroed with every epoch; the
// evaluation states are carried through a pass and zeroed with the next.
func TestRecurrentState(t *testing.T) {
	rt := newRuntime(t)
	const n, examples = 4, 12 // 3 batches of 4
	net := counterChild(t, n)
	// After batch b, row k holds Σ_{b' ≤ b} (b'·n + k); the metric is its mean over k.
	want := func(b int) float64 {
		s := 0.0
		for k := range n {
			for bb := 0; bb <= b; bb++ {
				s += float64(bb*n + k)
			}
		}
		return s / n
	}
	var got []float32
	opts := runner.TrainOptions{Epochs: 2, Batch: n, EvalBatch: 5, LR: 0.1, Seed: 7,
		Progress: func(p runner.Progress) { got = append(got, p.Loss) }}
	res, err := rt.Train(context.Background(), net, counting(examples), counting(examples), opts)
	if err != nil || res.Status != runner.Done {
		t.Fatalf("Train: %v %v %s", err, res.Status, res.Reason)
	}
	if len(got) != 6 {
		t.Fatalf("%d steps, want 6", len(got))
	}
	for i, v := range got {
		if w := want(i % 3); float64(v) != w {
			t.Errorf("step %d (epoch %d): metric %v, want %v (in order, carried, reset each epoch)", i, i/3, v, w)
		}
	}
	// Evaluation: batches of n whatever EvalBatch says; the pass's mean
	// is the mean of the three batches' metrics, in both epochs.
	wantVal := (want(0) + want(1) + want(2)) / 3
	for e, p := range res.Val {
		if v := p.Metrics["loss"]; v != wantVal {
			t.Errorf("epoch %d validation metric %v, want %v", e, v, wantVal)
		}
	}
	if _, err := rt.Evaluate(context.Background(), net, res.Params, counting(10), 5); err == nil {
		t.Error("Evaluate of 10 examples with states of batch 4: no error")
	}
}

// TestModelRun: an open model runs repeatedly, its state fed back: a
// lookup table indexed by an int64 token, and a counter.
func TestModelRun(t *testing.T) {
	rt := newRuntime(t)
	F, I := onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64
	g := &graph{g: &onnxpb.GraphProto{Name: ptr("step")}}
	g.input("token", I, "N")
	g.input("h", F, 1, "N", 2)
	g.floats("table", []float32{0, 10, 20, 30, 40, 50}, 3, 2)
	g.floats("one", []float32{1}, 1)
	g.node("Gather", []string{"table", "token"}, []string{"logits"})
	g.node("Add", []string{"h", "one"}, []string{"h.next"})
	g.output("logits", F, "N", 2)
	g.output("h.next", F, 1, "N", 2)
	m, err := rt.Open(g.model(t), []string{"token", "h"}, []string{"logits", "h.next"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := runner.Value{Shape: []int64{1, 1, 2}, F32: []float32{0, 0}}
	for step, tok := range []int64{2, 0, 1} {
		out, err := m.Run([]runner.Value{{Shape: []int64{1}, I64: []int64{tok}}, h})
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].F32; got[0] != float32(20*tok) || got[1] != float32(20*tok+10) {
			t.Errorf("step %d: logits %v for token %d", step, got, tok)
		}
		h = out[1]
		if h.F32[0] != float32(step+1) {
			t.Errorf("step %d: h %v, want %d", step, h.F32, step+1)
		}
	}
	if _, err := m.Run([]runner.Value{{Shape: []int64{2}, I64: []int64{1}}, h}); err == nil {
		t.Error("a token tensor of shape [2] with one value: no error")
	}
}

// TestFixedBatchMismatch: a child whose batch inputs fix their rows (a
// language model's [streams, steps]) refuses another batch size with a
// reason, instead of writing past its tensors.
func TestFixedBatchMismatch(t *testing.T) {
	rt := newRuntime(t)
	net := counterChild(t, 4)
	res, err := rt.Train(context.Background(), net, counting(12), counting(12), runner.TrainOptions{Epochs: 1, Batch: 3, EvalBatch: 4, LR: 0.1})
	if err != nil || res.Status != runner.Failed || !strings.Contains(res.Reason, "batch input x has 4 rows") {
		t.Errorf("batch 3 for a graph of 4 rows: %v %v %q", err, res.Status, res.Reason)
	}
}
