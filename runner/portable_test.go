package runner_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	onnx "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"
)

// runGorgonnx runs an inference model with onnx-go's pure-Go gorgonia
// backend (onnx-go panics on some inputs: that becomes an error).
func runGorgonnx(model []byte, image []float32, shape []int) (logits []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	backend := gorgonnx.NewGraph()
	m := onnx.NewModel(backend)
	if err := m.UnmarshalBinary(model); err != nil {
		return nil, err
	}
	in := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), image...)))
	if err := m.SetInput(0, in); err != nil {
		return nil, err
	}
	if err := backend.Run(); err != nil {
		return nil, err
	}
	outs, err := m.GetOutputTensors()
	if err != nil {
		return nil, err
	}
	if len(outs) != 1 {
		return nil, fmt.Errorf("%d outputs, want 1", len(outs))
	}
	data, ok := outs[0].Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("output of type %T, want []float32", outs[0].Data())
	}
	return data, nil
}

// unsupportedOp says which operator onnx-go lacks, if that is what err is.
func unsupportedOp(err error) (string, bool) {
	var ni *onnx.ErrNotImplemented
	if errors.As(err, &ni) {
		return ni.Error(), true
	}
	return "", false
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestSoftmaxInferPortable: the hand-built inference graph gives the same
// logits in ORT and in onnx-go's gorgonia backend (it supports Flatten and
// Gemm).
func TestSoftmaxInferPortable(t *testing.T) {
	rt := newRuntime(t)
	ch := newSoftmaxChild(t, tc, th, tw, tk, 0.9, 0, randFloats(1, tk*tc*th*tw), randFloats(2, tk))
	set := blobs(4, 3, tc, th, tw, tk)
	want, _, err := rt.Infer(ch.infer, "image", set.X, []int64{3, tc, th, tw}, "logits")
	if err != nil {
		t.Fatal(err)
	}
	got, err := runGorgonnx(ch.infer, set.X, []int{3, tc, th, tw})
	if err != nil {
		t.Fatalf("onnx-go: %v", err)
	}
	if len(got) != len(want) || maxAbsDiff(got, want) > 1e-4 {
		t.Errorf("onnx-go logits %v, ORT %v", got, want)
	}
}
