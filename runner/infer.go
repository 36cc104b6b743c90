package runner

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Infer runs a model with one float input and one float output on one
// batch: data of the given shape goes to the input called in; it returns the
// output called out and its shape.
func (rt *Runtime) Infer(model []byte, in string, data []float32, shape []int64, out string) (values []float32, outShape []int64, err error) {
	s := ort.NewShape(shape...)
	if len(shape) == 0 {
		return nil, nil, fmt.Errorf("runner: infer: input %s: no shape", in)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("runner: infer: input %s: shape %v: %w", in, shape, err)
	}
	if s.FlattenedSize() != int64(len(data)) {
		return nil, nil, fmt.Errorf("runner: infer: input %s has %d values, shape %v needs %d", in, len(data), shape, s.FlattenedSize())
	}
	sess, err := rt.newSession(model, []string{in}, []string{out})
	if err != nil {
		return nil, nil, fmt.Errorf("runner: infer: %w", err)
	}
	defer sess.Destroy()
	x, err := ort.NewTensor(s, data)
	if err != nil {
		return nil, nil, fmt.Errorf("runner: infer: input %s: %w", in, err)
	}
	defer x.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{x}, outs); err != nil {
		return nil, nil, fmt.Errorf("runner: infer: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("runner: infer: output %s is not a float tensor", out)
	}
	return append([]float32(nil), t.GetData()...), append([]int64(nil), t.GetShape()...), nil
}

// Value is a tensor passed to or returned by Model.Run: its shape and its
// values, float32 in F32 or int64 in I64.
type Value struct {
	Shape []int64
	F32   []float32
	I64   []int64
}

// Model is an open inference session, run as many times as asked (a
// language model generating text one token at a time).
type Model struct {
	sess      *ort.DynamicAdvancedSession
	ins, outs []string
}

// Open creates a session of model with the named inputs and outputs, in
// the order Run takes and returns them. Close it when done.
func (rt *Runtime) Open(model []byte, inputs, outputs []string) (*Model, error) {
	sess, err := rt.newSession(model, inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("runner: open: %w", err)
	}
	return &Model{sess: sess, ins: inputs, outs: outputs}, nil
}

// Run feeds in (one Value per input, in Open's order) and returns the
// outputs, float32, in Open's order.
func (m *Model) Run(in []Value) (_ []Value, err error) {
	if len(in) != len(m.ins) {
		return nil, fmt.Errorf("runner: run: %d inputs, the model takes %d", len(in), len(m.ins))
	}
	vals := make([]ort.Value, 0, len(in))
	defer func() {
		for _, v := range vals {
			v.Destroy()
		}
	}()
	for k, v := range in {
		s := ort.NewShape(v.Shape...)
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("runner: run: input %s: shape %v: %w", m.ins[k], v.Shape, err)
		}
		var t ort.Value
		switch {
		case v.I64 != nil && v.F32 == nil && s.FlattenedSize() == int64(len(v.I64)):
			t, err = ort.NewTensor(s, v.I64)
		case v.F32 != nil && v.I64 == nil && s.FlattenedSize() == int64(len(v.F32)):
			t, err = ort.NewTensor(s, v.F32)
		default:
			return nil, fmt.Errorf("runner: run: input %s: want the %d values of shape %v, float32 or int64", m.ins[k], s.FlattenedSize(), v.Shape)
		}
		if err != nil {
			return nil, fmt.Errorf("runner: run: input %s: %w", m.ins[k], err)
		}
		vals = append(vals, t)
	}
	outs := make([]ort.Value, len(m.outs))
	if err := m.sess.Run(vals, outs); err != nil {
		return nil, fmt.Errorf("runner: run: %w", err)
	}
	res := make([]Value, len(outs))
	for k, o := range outs {
		defer o.Destroy()
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("runner: run: output %s is not a float tensor", m.outs[k])
		}
		res[k] = Value{Shape: append([]int64(nil), t.GetShape()...), F32: append([]float32(nil), t.GetData()...)}
	}
	return res, nil
}

// Close destroys the session.
func (m *Model) Close() {
	if m.sess != nil {
		m.sess.Destroy()
		m.sess = nil
	}
}
