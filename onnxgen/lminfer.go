package onnxgen

import (
	"encoding/json"
	"fmt"

	"github.com/nas-project/nas/onnxgen/graph"
	"google.golang.org/protobuf/proto"
)

// The inference model's metadata keys: MetaVocab holds the vocabulary, a
// JSON array of strings, token i at index i; MetaCell the cell's canonical
// string (Cell.String).
const (
	MetaVocab = "nas.vocab"
	MetaCell  = "nas.cell"
)

// LMInference writes the trained LM of cell c as a one-step ONNX model
// (IR 8, opset 17) with params (in LMInitParams's order and shapes) as
// initializers: inputs token int64 [N] (N dynamic), h and c float
// [Layers, N, Hidden]; outputs logits [N, Vocab], h.next and c.next
// [Layers, N, Hidden]. Feeding a sequence token by token, the states
// carried, gives the logits of the training and evaluation graphs' forward.
// vocab (Vocab strings) is stored in the metadata under MetaVocab, the
// cell's string under MetaCell.
func LMInference(c Cell, o LMOptions, params []Param, vocab []string) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if err := checkParams(params, lmSpecs(c, o)); err != nil {
		return nil, err
	}
	if len(vocab) != o.Vocab {
		return nil, fmt.Errorf("onnxgen: %d vocabulary entries for a vocabulary of %d", len(vocab), o.Vocab)
	}
	m := newLMNet("nas.lm.infer", c, o)
	b := m.b
	L, H := int64(o.Layers), int64(o.Hidden)
	token := b.Input(InputToken, graph.Int64, graph.Batch)
	hIn := b.Input(InputH, graph.Float, L, graph.Batch, H)
	cIn := b.Input(InputC, graph.Float, L, graph.Batch, H)
	for _, p := range params {
		m.w[p.Name] = b.Initializer(p.Name, p.Shape, p.Data)
	}
	m.constants("", true)
	x := b.Gather("emb.x", m.w["emb"], token)
	hs, cs := make([]graph.Value, L), make([]graph.Value, L)
	for l := range o.Layers {
		p := fmt.Sprintf("l%d", l)
		at := func(v graph.Value, n string) graph.Value {
			return b.Squeeze(p+"."+n, b.Slice(p+"."+n+".s", v, []int64{int64(l)}, []int64{int64(l + 1)}, []int64{0}, nil), 0)
		}
		s := m.cellForward(p, l, b.MatMul(p+".xw", x, m.w[p+".w"]), at(hIn, "h"), at(cIn, "c"))
		hs[l] = b.Unsqueeze(p+".h.next", s.h, 0)
		cs[l] = b.Unsqueeze(p+".c.next", s.c, 0)
		x = s.h
	}
	b.Output(b.Gemm(OutputLogits, x, m.w["out.w"], m.w["out.b"], graph.GemmAttrs{}))
	if L == 1 {
		b.Output(b.Identity(OutputH, hs[0]))
		b.Output(b.Identity(OutputC, cs[0]))
	} else {
		b.Output(b.Concat(OutputH, 0, hs...))
		b.Output(b.Concat(OutputC, 0, cs...))
	}
	model, err := b.Model()
	if err != nil {
		return nil, fmt.Errorf("onnxgen: LM inference graph: %w", err)
	}
	js, err := json.Marshal(vocab)
	if err != nil {
		return nil, err
	}
	SetMetadata(model, map[string]string{MetaCell: c.String(), MetaVocab: string(js)})
	return proto.MarshalOptions{Deterministic: true}.Marshal(model)
}
