package runner

import (
	"fmt"
	"math"
)

// Param is one trainable tensor of a child: its name (derived from the layer
// position, e.g. "l3.conv.w"), its shape and its values, row-major.
type Param struct {
	Name  string
	Shape []int64
	Data  []float32
}

// Child is a compiled child network, as plain data: the serialized
// training-step and evaluation graphs and the initial parameters, in the
// order both graphs take them (see the package doc for the interface).
type Child struct {
	Train, Eval []byte
	Params      []Param
	// ActivationFloats is the number of float values of the training graph's
	// intermediate forward values for one image (the compiler knows it).
	// EstimateMemory counts them twice (values and their gradients). Zero:
	// unknown; the estimate then counts parameters and the batch only.
	ActivationFloats int64
}

// Validate checks that c has both graphs and consistent parameters.
func (c Child) Validate() error {
	if len(c.Train) == 0 {
		return fmt.Errorf("runner: child: no training graph")
	}
	if len(c.Eval) == 0 {
		return fmt.Errorf("runner: child: no evaluation graph")
	}
	return validateParams(c.Params)
}

func validateParams(ps []Param) error {
	if len(ps) == 0 {
		return fmt.Errorf("runner: child: no parameters")
	}
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		if p.Name == "" {
			return fmt.Errorf("runner: param %d: empty name", i)
		}
		if seen[p.Name] {
			return fmt.Errorf("runner: param %d: duplicate name %q", i, p.Name)
		}
		seen[p.Name] = true
		n := int64(1)
		for _, d := range p.Shape {
			if d <= 0 {
				return fmt.Errorf("runner: param %s: shape %v: dimensions must be positive", p.Name, p.Shape)
			}
			n *= d
		}
		if n != int64(len(p.Data)) {
			return fmt.Errorf("runner: param %s: shape %v needs %d values, have %d", p.Name, p.Shape, n, len(p.Data))
		}
	}
	return nil
}

// ParamFloats is the number of float values of all parameters of c.
func (c Child) ParamFloats() int64 {
	var n int64
	for _, p := range c.Params {
		n += int64(len(p.Data))
	}
	return n
}

// EstimateMemory estimates the bytes that training c at the given batch size
// needs, for images of imageFloats (C·H·W) values:
//
//	4 B × (4 × parameters            two weight sets + two momentum sets
//	       + batch × imageFloats      the image batch
//	       + batch × 2 × ActivationFloats)  forward values and their gradients
//	+ 8 B × batch                      the labels
//
// It is an estimate of the peak working set, not a bound: ORT's own arena and
// the evaluation session come on top.
func EstimateMemory(c Child, batch int, imageFloats int) int64 {
	b := int64(batch)
	floats := 4*c.ParamFloats() + b*int64(imageFloats) + b*2*c.ActivationFloats
	if floats < 0 || floats > math.MaxInt64/4-8*b { // overflow: as good as infinite
		return math.MaxInt64
	}
	return 4*floats + 8*b
}
