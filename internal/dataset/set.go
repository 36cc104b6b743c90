package dataset

import (
	"fmt"

	"github.com/nas-project/nas/internal/child"
)

// Set is a labelled image data set held in memory: images are float32 in NCHW
// order, labels are class indices. The loaders fill X with the raw pixel
// values 0..255; Normalize rescales it in place.
type Set struct {
	Name    string    // e.g. "fashion-mnist/train"
	C, H, W int       // image shape
	Classes int       // number of classes; labels are in [0, Classes)
	X       []float32 // Len()*C*H*W values, image i at X[i*C*H*W:]
	Y       []int64   // Len() labels
	// Labels names the classes, Labels[k] class k; nil when the data set
	// names none.
	Labels []string
}

// Len is the number of images in s.
func (s *Set) Len() int { return len(s.Y) }

// ImageSize is the number of values of one image, C*H*W.
func (s *Set) ImageSize() int { return s.C * s.H * s.W }

// Validate checks that the fields of s agree: positive shape, at least two
// classes, len(X) == Len()*C*H*W and every label in [0, Classes).
func (s *Set) Validate() error {
	if s == nil {
		return fmt.Errorf("dataset: nil set")
	}
	if s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("dataset: %s: image shape %dx%dx%d is not positive", s.Name, s.C, s.H, s.W)
	}
	if s.Classes < 2 {
		return fmt.Errorf("dataset: %s: %d classes, want at least 2", s.Name, s.Classes)
	}
	if want := len(s.Y) * s.ImageSize(); len(s.X) != want {
		return fmt.Errorf("dataset: %s: %d pixel values for %d images of %dx%dx%d, want %d",
			s.Name, len(s.X), len(s.Y), s.C, s.H, s.W, want)
	}
	if s.Labels != nil && len(s.Labels) != s.Classes {
		return fmt.Errorf("dataset: %s: %d class names for %d classes", s.Name, len(s.Labels), s.Classes)
	}
	for i, y := range s.Y {
		if y < 0 || y >= int64(s.Classes) {
			return fmt.Errorf("dataset: %s: label %d of image %d is outside [0, %d)", s.Name, y, i, s.Classes)
		}
	}
	return nil
}

// pick returns a new set holding the images of s at the given indices, in
// that order.
func (s *Set) pick(name string, idx []int) *Set {
	sz := s.ImageSize()
	out := &Set{Name: name, C: s.C, H: s.H, W: s.W, Classes: s.Classes, Labels: s.Labels,
		X: make([]float32, len(idx)*sz), Y: make([]int64, len(idx))}
	for j, i := range idx {
		copy(out.X[j*sz:(j+1)*sz], s.X[i*sz:(i+1)*sz])
		out.Y[j] = s.Y[i]
	}
	return out
}

// Fill writes images idx of s, in order, into a classifier's two batch
// columns: dst[0].F32 the images [len(idx),C,H,W], dst[1].I64 the labels. It
// makes a *Set a runner.Source for a child whose batch inputs are the image
// and the label (onnxgen.CompileNet's).
func (s *Set) Fill(idx []int, dst []child.Column) {
	d := s.ImageSize()
	x, y := dst[0].F32, dst[1].I64
	for j, i := range idx {
		copy(x[j*d:(j+1)*d], s.X[i*d:(i+1)*d])
		y[j] = s.Y[i]
	}
}
