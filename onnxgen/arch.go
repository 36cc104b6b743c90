package onnxgen

import "fmt"

// Layer is one convolutional layer of a CNN architecture: a KH×KW convolution
// with stride SH×SW and Filters output channels, fed by the concatenation of
// the layers listed in Inputs (indices of earlier layers, ascending, no
// repeats). A layer with no Inputs takes the image. Pool, when not zero, is
// a Pool×Pool max pool with stride Pool after the layer's ReLU (Pool ≥ 2;
// zero, the default, is none).
type Layer struct {
	KH, KW  int
	SH, SW  int
	Filters int
	Inputs  []int
	Pool    int
}

// Arch is a CNN architecture in the paper's search space: a sequence of
// layers, numbered from 0. Every layer output that no later layer uses is
// concatenated (the smaller zero-padded to the largest) and fed to the head.
type Arch struct {
	Layers []Layer
}

// Validate checks the structure of an Arch built in code, with the rules
// Parse applies to a string: at least one layer; positive kernel sizes,
// strides and filters (a zero stride is an error: Parse, not Validate,
// supplies the default 1); a pool size of 0 (none) or at least 2; inputs that are earlier layers, ascending, without
// repeats. Errors name the layer: "onnxgen: layer 3: ...".
func (a Arch) Validate() error {
	if len(a.Layers) == 0 {
		return fmt.Errorf("onnxgen: architecture has no layers")
	}
	for i, l := range a.Layers {
		for f := fKH; f < nFields; f++ {
			v := *l.field(f)
			if f == fP && v == 1 {
				return fmt.Errorf("onnxgen: layer %d: pool size 1 pools nothing (want 0 for none, or at least 2)", i)
			}
			if v <= 0 && !(f == fP && v == 0) {
				return fmt.Errorf("onnxgen: layer %d: %s %d is not positive", i, fieldName[f], v)
			}
			if v > maxValue {
				return fmt.Errorf("onnxgen: layer %d: %s %d is too large (want at most %d)", i, fieldName[f], v, maxValue)
			}
		}
		for k, j := range l.Inputs {
			switch {
			case j < 0 || j >= i:
				return fmt.Errorf("onnxgen: layer %d: cannot be fed by layer %d (not an earlier layer)", i, j)
			case k > 0 && j == l.Inputs[k-1]:
				return fmt.Errorf("onnxgen: layer %d: fed twice by layer %d", i, j)
			case k > 0 && j < l.Inputs[k-1]:
				return fmt.Errorf("onnxgen: layer %d: inputs %v are not ascending", i, l.Inputs)
			}
		}
	}
	return nil
}
