package runner

import (
	"errors"
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Infer runs an inference model (input "image" float[N,C,H,W], output
// "logits" float[N,classes]) on one batch. shape is the image shape
// [N,C,H,W]; it returns the logits and their shape.
func (rt *Runtime) Infer(model []byte, image []float32, shape []int64) (logits []float32, logitsShape []int64, err error) {
	s := ort.NewShape(shape...)
	if len(shape) != 4 {
		return nil, nil, fmt.Errorf("runner: infer: image shape %v: want [N,C,H,W]", shape)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("runner: infer: image shape %v: %w", shape, err)
	}
	if s.FlattenedSize() != int64(len(image)) {
		return nil, nil, fmt.Errorf("runner: infer: image has %d values, shape %v needs %d", len(image), shape, s.FlattenedSize())
	}
	sess, err := rt.newSession(model, []string{"image"}, []string{"logits"})
	if err != nil {
		return nil, nil, fmt.Errorf("runner: infer: %w", err)
	}
	defer sess.Destroy()
	in, err := ort.NewTensor(s, image)
	if err != nil {
		return nil, nil, fmt.Errorf("runner: infer: image tensor: %w", err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		return nil, nil, fmt.Errorf("runner: infer: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, errors.New("runner: infer: output logits is not a float tensor")
	}
	data := t.GetData()
	return append([]float32(nil), data...), append([]int64(nil), t.GetShape()...), nil
}
