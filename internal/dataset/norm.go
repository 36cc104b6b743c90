package dataset

import (
	"fmt"
	"math"
)

// Norm is a per-channel affine normalisation, x' = (x - Mean[c]) / Std[c].
// It is plain data (JSON-encodable) so a run can record it and an exported
// model can fold it into its first layer.
type Norm struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// minStd is the smallest Std that Stats records; a channel with less spread
// (e.g. constant) gets Std 1, so Normalize only centres it.
const minStd = 1e-6

// Stats computes the mean and the population standard deviation of every
// channel of s over all its pixels (accumulated in float64). Compute it on the
// training split only and apply it to every split. A channel with a standard
// deviation below 1e-6 gets Std 1. An empty set or one whose X does not match
// its shape gives Mean 0 and Std 1 for each of its C channels.
func Stats(s *Set) Norm {
	if s == nil || s.C <= 0 {
		return Norm{}
	}
	n := Norm{Mean: make([]float32, s.C), Std: make([]float32, s.C)}
	plane := s.H * s.W
	if s.Len() == 0 || plane <= 0 || len(s.X) != s.Len()*s.ImageSize() {
		for c := range n.Std {
			n.Std[c] = 1
		}
		return n
	}
	for c := range s.C {
		var sum, sq float64
		for i := range s.Len() {
			off := (i*s.C + c) * plane
			for _, v := range s.X[off : off+plane] {
				sum += float64(v)
			}
		}
		count := float64(s.Len() * plane)
		mean := sum / count
		for i := range s.Len() {
			off := (i*s.C + c) * plane
			for _, v := range s.X[off : off+plane] {
				d := float64(v) - mean
				sq += d * d
			}
		}
		std := math.Sqrt(sq / count)
		if std < minStd {
			std = 1
		}
		n.Mean[c], n.Std[c] = float32(mean), float32(std)
	}
	return n
}

// Validate checks that n has one positive, finite Std and one finite Mean
// for each of c channels.
func (n Norm) Validate(c int) error {
	if len(n.Mean) != c || len(n.Std) != c {
		return fmt.Errorf("dataset: norm has %d means and %d stds, want %d channels", len(n.Mean), len(n.Std), c)
	}
	for i := range c {
		m, s := float64(n.Mean[i]), float64(n.Std[i])
		if math.IsNaN(m) || math.IsInf(m, 0) || math.IsNaN(s) || math.IsInf(s, 0) || s <= 0 {
			return fmt.Errorf("dataset: norm channel %d: mean %v, std %v: want finite values and std > 0", i, m, s)
		}
	}
	return nil
}

// Normalize applies n to s in place: x = (x - Mean[c]) / Std[c]. It fails,
// leaving s unchanged, when n does not fit s's channels (see Norm.Validate)
// or X does not match the shape.
func (s *Set) Normalize(n Norm) error {
	if err := n.Validate(s.C); err != nil {
		return fmt.Errorf("dataset: normalize %s: %w", s.Name, err)
	}
	if len(s.X) != s.Len()*s.ImageSize() {
		return fmt.Errorf("dataset: normalize %s: %d pixel values for %d images of %dx%dx%d", s.Name, len(s.X), s.Len(), s.C, s.H, s.W)
	}
	plane := s.H * s.W
	for c := range s.C {
		m, sd := n.Mean[c], n.Std[c]
		for i := range s.Len() {
			off := (i*s.C + c) * plane
			px := s.X[off : off+plane]
			for j, v := range px {
				px[j] = (v - m) / sd
			}
		}
	}
	return nil
}
