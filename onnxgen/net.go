package onnxgen

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/graph"
)

// The roles of a classifier's graphs (see "The child contract" in the
// package doc).
const (
	InputImage  = "image"
	InputLabel  = "label"
	InputLR     = "lr"
	MetricLoss  = "loss"
	MetricRight = "correct"
	// OutputLogits is the inference graph's output (its input is InputImage).
	OutputLogits = "logits"
)

// CompileNet compiles a into everything a runner needs to train it as a
// classifier of classes classes for images of size in: the parameters
// initialised from opts.Seed (InitParams), the training-step graph
// (CompileTrain) and the evaluation graph (CompileEval), serialized
// deterministically, with the signature of each graph and the role of every
// tensor as the builder declared them: batch inputs image and label, the
// learning rate lr, the state pairs p → p.next and p.mom → p.mom.next, and the
// metrics loss (a batch mean that must stay finite) and correct (a count);
// and the K-step form of the training graph (child.Net.Steps: an ONNX Loop
// over the training step's nodes, see "The K-step graph" in the package
// doc).
func CompileNet(a Arch, in Input, classes int, opts TrainOptions) (child.Net, error) {
	if err := opts.Validate(); err != nil {
		return child.Net{}, err
	}
	ps, err := InitParams(a, in, classes, opts.Options)
	if err != nil {
		return child.Net{}, err
	}
	tr, err := compileStep(a, in, classes, opts, true)
	if err != nil {
		return child.Net{}, err
	}
	ev, err := compileStep(a, in, classes, TrainOptions{Options: opts.Options}, false)
	if err != nil {
		return child.Net{}, err
	}
	n := child.Net{
		Params:  ps,
		Batch:   []string{InputImage, InputLabel},
		LR:      InputLR,
		State:   tr.state,
		Metrics: []child.Metric{{Name: MetricLoss, Reduce: child.Mean, Finite: true}, {Name: MetricRight, Reduce: child.Sum}},
	}
	if n.Train, err = graphOf(tr); err != nil {
		return child.Net{}, fmt.Errorf("onnxgen: training graph: %w", err)
	}
	if n.Eval, err = graphOf(ev); err != nil {
		return child.Net{}, fmt.Errorf("onnxgen: evaluation graph: %w", err)
	}
	if n.Steps, err = stepsModel(tr.model, n.Train, n.State, []string{InputImage, InputLabel, InputLR, MetricLoss, MetricRight}); err != nil {
		return child.Net{}, fmt.Errorf("onnxgen: K-step graph: %w", err)
	}
	if n.ActivationFloats, err = activationFloats(a, in, opts.BatchNorm); err != nil {
		return child.Net{}, err
	}
	return n, n.Validate()
}

// graphOf serializes a compiled step with its signature.
func graphOf(s step) (child.Graph, error) {
	b, err := (proto.MarshalOptions{Deterministic: true}).Marshal(s.model)
	if err != nil {
		return child.Graph{}, err
	}
	ins, err := tensors(s.inputs)
	if err != nil {
		return child.Graph{}, err
	}
	outs, err := tensors(s.outputs)
	if err != nil {
		return child.Graph{}, err
	}
	return child.Graph{Model: b, Inputs: ins, Outputs: outs}, nil
}

// tensors describes graph values in the contract's terms; the contract has
// float32 and int64 tensors only.
func tensors(vs []graph.Value) ([]child.Tensor, error) {
	ts := make([]child.Tensor, len(vs))
	for i, v := range vs {
		var t child.DType
		switch v.Type {
		case graph.Float:
			t = child.Float32
		case graph.Int64:
			t = child.Int64
		default:
			return nil, fmt.Errorf("%s: element type %v has no place in the child contract", v.Name, v.Type)
		}
		ts[i] = child.Tensor{Name: v.Name, Type: t, Shape: append([]int64(nil), v.Shape...)}
	}
	return ts, nil
}

// activationFloats counts the forward values of the training graph per
// image: each layer's (padded, concatenated) input unless it is the image,
// its convolution output, batch norm output and ReLU output, its pooled
// output, and the head's concatenation.
func activationFloats(a Arch, in Input, bn bool) (int64, error) {
	shapes, err := a.Shapes(in)
	if err != nil {
		return 0, err
	}
	size := func(x Input) int64 { return int64(x.C) * int64(x.H) * int64(x.W) }
	per := int64(2)
	if bn {
		per = 3
	}
	var n int64
	for i, l := range a.Layers {
		if len(l.Inputs) > 0 {
			n += size(shapes[i].In)
		}
		n += per * size(shapes[i].Conv)
		if l.Pool > 0 {
			n += size(shapes[i].Out)
		}
	}
	h, err := a.HeadShape(in)
	if err != nil {
		return 0, err
	}
	return n + size(h), nil
}
