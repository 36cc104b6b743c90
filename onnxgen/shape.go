package onnxgen

import (
	"fmt"
	"math"
)

// Input is the size of an image or feature map: channels, height, width.
type Input struct{ C, H, W int }

// LayerShape is the input and output size of one layer.
type LayerShape struct {
	// In is the size of the layer's input: the image, or the concatenation
	// of its input layers (channels summed, height and width the largest of
	// them; the smaller maps are zero-padded at the bottom and right).
	In Input
	// Conv is the convolution's output with 'same' padding:
	// Filters × ceil(In.H/SH) × ceil(In.W/SW).
	Conv Input
	// Out is the layer's output: Conv, or with a P×P max pool (stride P, no
	// padding, rows and columns that fill no window dropped, as PyTorch's
	// MaxPool2d) Filters × floor(Conv.H/P) × floor(Conv.W/P).
	Out Input
}

// Shapes gives the input and output size of every layer for an image of
// size in. It rejects an invalid architecture (Arch.Validate), a
// non-positive input size, a stride larger than the feature map it runs
// on ("onnxgen: layer 4: stride 3x3 on a 2x2 feature map (input 8x8)") and a
// pool larger than the convolution's output ("onnxgen: layer 5: 2x2 max
// pool on a 1x1 feature map (input 8x8)").
func (a Arch) Shapes(in Input) ([]LayerShape, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if in.C <= 0 || in.H <= 0 || in.W <= 0 {
		return nil, fmt.Errorf("onnxgen: input %dx%dx%d is not positive", in.C, in.H, in.W)
	}
	shapes := make([]LayerShape, len(a.Layers))
	for i, l := range a.Layers {
		x := in
		if len(l.Inputs) > 0 {
			x = concat(shapes, l.Inputs)
		}
		if l.SH > x.H || l.SW > x.W {
			return nil, fmt.Errorf("onnxgen: layer %d: stride %dx%d on a %dx%d feature map (input %dx%d)", i, l.SH, l.SW, x.H, x.W, in.H, in.W)
		}
		c := Input{C: l.Filters, H: ceilDiv(x.H, l.SH), W: ceilDiv(x.W, l.SW)}
		out := c
		if l.Pool > 0 {
			if l.Pool > c.H || l.Pool > c.W {
				return nil, fmt.Errorf("onnxgen: layer %d: %dx%d max pool on a %dx%d feature map (input %dx%d)", i, l.Pool, l.Pool, c.H, c.W, in.H, in.W)
			}
			out.H, out.W = c.H/l.Pool, c.W/l.Pool
		}
		shapes[i] = LayerShape{In: x, Conv: c, Out: out}
	}
	return shapes, nil
}

// concat is the size of the padded concatenation of the given layers'
// outputs. Channels stay far from overflow: each is at most maxValue and an
// architecture has fewer than math.MaxInt/maxValue layers in any memory.
func concat(shapes []LayerShape, layers []int) Input {
	var x Input
	for _, j := range layers {
		o := shapes[j].Out
		x.C += o.C
		x.H, x.W = max(x.H, o.H), max(x.W, o.W)
	}
	return x
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// HeadInputs lists the layers that no later layer uses, ascending: their
// outputs are concatenated (padded like a layer's inputs) and fed to the
// classifier head. The last layer is always among them. Empty for an
// architecture without layers.
func (a Arch) HeadInputs() []int {
	used := make([]bool, len(a.Layers))
	for _, l := range a.Layers {
		for _, j := range l.Inputs {
			if j >= 0 && j < len(used) {
				used[j] = true
			}
		}
	}
	var h []int
	for i, u := range used {
		if !u {
			h = append(h, i)
		}
	}
	return h
}

// HeadShape is the size of the head's input (the padded concatenation of the
// HeadInputs layers) for an image of size in; errors as Shapes.
func (a Arch) HeadShape(in Input) (Input, error) {
	shapes, err := a.Shapes(in)
	if err != nil {
		return Input{}, err
	}
	return concat(shapes, a.HeadInputs()), nil
}

// Cost is the size and work of a network.
type Cost struct {
	// Params counts the trained weights: per layer the convolution's
	// Filters·C·KH·KW weights and Filters biases, with batch norm its
	// 2·Filters scale and shift (the running mean and variance are state,
	// not counted); the head's classes·C weights and classes biases.
	Params int64
	// FLOPs counts the multiply-adds of one forward pass of one image: per
	// layer HO·WO·Filters·C·KH·KW (padding included), plus the head's
	// classes·C. Bias additions, batch norm, ReLU, padding and pooling are
	// not counted.
	FLOPs int64
}

// Cost computes the size and work of a as a classifier of classes (at least
// 2) classes for images of size in, with or without batch norm after every
// convolution. Errors as Shapes, and when a count overflows int64.
func (a Arch) Cost(in Input, classes int, batchNorm bool) (Cost, error) {
	if classes < 2 {
		return Cost{}, fmt.Errorf("onnxgen: %d classes (want at least 2)", classes)
	}
	shapes, err := a.Shapes(in)
	if err != nil {
		return Cost{}, err
	}
	var c counter
	for i, l := range a.Layers {
		s := shapes[i]
		w := c.mul(int64(l.Filters), int64(s.In.C), int64(l.KH), int64(l.KW))
		c.add(&c.cost.Params, w, int64(l.Filters))
		if batchNorm {
			c.add(&c.cost.Params, 2*int64(l.Filters))
		}
		c.add(&c.cost.FLOPs, c.mul(w, int64(s.Conv.H), int64(s.Conv.W)))
	}
	h := concat(shapes, a.HeadInputs())
	w := c.mul(int64(classes), int64(h.C))
	c.add(&c.cost.Params, w, int64(classes))
	c.add(&c.cost.FLOPs, w)
	if c.overflow {
		return Cost{}, fmt.Errorf("onnxgen: cost of %d layers overflows int64", len(a.Layers))
	}
	return c.cost, nil
}

// counter does int64 arithmetic that remembers overflow.
type counter struct {
	cost     Cost
	overflow bool
}

func (c *counter) mul(vs ...int64) int64 {
	p := int64(1)
	for _, v := range vs {
		if v != 0 && p > math.MaxInt64/v {
			c.overflow = true
			return 0
		}
		p *= v
	}
	return p
}

func (c *counter) add(dst *int64, vs ...int64) {
	for _, v := range vs {
		if *dst > math.MaxInt64-v {
			c.overflow = true
			return
		}
		*dst += v
	}
}
