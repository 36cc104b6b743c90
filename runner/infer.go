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
