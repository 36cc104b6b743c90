package dataset

// Set is a labelled image data set held in memory, ready for training: images
// are normalised float32 in NCHW order, labels are class indices.
type Set struct {
	Name    string    // e.g. "fashion-mnist/train"
	C, H, W int       // image shape
	Classes int       // number of classes; labels are in [0, Classes)
	X       []float32 // Len()*C*H*W values, image i at X[i*C*H*W:]
	Y       []int64   // Len() labels
}

// Len is the number of images in s.
func (s *Set) Len() int { return len(s.Y) }
