package gradcheck

import (
	"fmt"
	"math"
)

// This file is an independent float64 forward pass of a child network, written
// from the rules of the architecture language (not from onnxgen's code): the
// oracle of the finite-difference checks.

// t4 is a float64 NCHW tensor.
type t4 struct {
	n, c, h, w int
	d          []float64
}

func newT4(n, c, h, w int) *t4 { return &t4{n, c, h, w, make([]float64, n*c*h*w)} }

func (t *t4) at(n, c, y, x int) float64 { return t.d[((n*t.c+c)*t.h+y)*t.w+x] }

// samePads is the 'same' padding rule of an odd kernel: (k-1)/2 on each
// side, so the output is ceil(in/stride).
func samePads(in, k, s int) (before, after, out int) {
	p := (k - 1) / 2
	return p, p, (in+2*p-k)/s + 1
}

// concatPadded zero-pads every tensor at the bottom/right to the largest
// height and width among them and concatenates them along channels.
func concatPadded(xs []*t4) *t4 {
	h, w, c := 0, 0, 0
	for _, x := range xs {
		h, w, c = max(h, x.h), max(w, x.w), c+x.c
	}
	n := xs[0].n
	out := newT4(n, c, h, w)
	c0 := 0
	for _, x := range xs {
		for i := 0; i < n; i++ {
			for ch := 0; ch < x.c; ch++ {
				for y := 0; y < x.h; y++ {
					for xx := 0; xx < x.w; xx++ {
						out.d[((i*c+c0+ch)*h+y)*w+xx] = x.at(i, ch, y, xx)
					}
				}
			}
		}
		c0 += x.c
	}
	return out
}

// convSame is a KH×KW convolution with bias, stride SH×SW and 'same' padding.
func convSame(x *t4, w []float64, b []float64, f, kh, kw, sh, sw int) *t4 {
	pt, _, ho := samePads(x.h, kh, sh)
	pl, _, wo := samePads(x.w, kw, sw)
	out := newT4(x.n, f, ho, wo)
	for n := 0; n < x.n; n++ {
		for o := 0; o < f; o++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					s := b[o]
					for c := 0; c < x.c; c++ {
						for ky := 0; ky < kh; ky++ {
							iy := oy*sh + ky - pt
							if iy < 0 || iy >= x.h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := ox*sw + kx - pl
								if ix < 0 || ix >= x.w {
									continue
								}
								s += w[((o*x.c+c)*kh+ky)*kw+kx] * x.at(n, c, iy, ix)
							}
						}
					}
					out.d[((n*f+o)*ho+oy)*wo+ox] = s
				}
			}
		}
	}
	return out
}

// maxPool is a p×p max pool with stride p and no padding (floor mode: rows
// and columns that fill no window are dropped).
func maxPool(x *t4, p int) *t4 {
	out := newT4(x.n, x.c, x.h/p, x.w/p)
	for n := 0; n < x.n; n++ {
		for c := 0; c < x.c; c++ {
			for oy := 0; oy < out.h; oy++ {
				for ox := 0; ox < out.w; ox++ {
					m := math.Inf(-1)
					for ky := 0; ky < p; ky++ {
						for kx := 0; kx < p; kx++ {
							m = max(m, x.at(n, c, oy*p+ky, ox*p+kx))
						}
					}
					out.d[((n*out.c+c)*out.h+oy)*out.w+ox] = m
				}
			}
		}
	}
	return out
}

// batchNormTrain normalises each channel with the batch's mean and biased
// variance, then scales and shifts.
func batchNormTrain(x *t4, scale, bias []float64, eps float64) {
	m := float64(x.n * x.h * x.w)
	for c := 0; c < x.c; c++ {
		var mean, v float64
		for n := 0; n < x.n; n++ {
			for i := 0; i < x.h*x.w; i++ {
				mean += x.d[(n*x.c+c)*x.h*x.w+i]
			}
		}
		mean /= m
		for n := 0; n < x.n; n++ {
			for i := 0; i < x.h*x.w; i++ {
				d := x.d[(n*x.c+c)*x.h*x.w+i] - mean
				v += d * d
			}
		}
		v /= m
		inv := 1 / math.Sqrt(v+eps)
		for n := 0; n < x.n; n++ {
			for i := 0; i < x.h*x.w; i++ {
				k := (n*x.c+c)*x.h*x.w + i
				x.d[k] = (x.d[k]-mean)*inv*scale[c] + bias[c]
			}
		}
	}
}

// batchNormEval normalises each channel with the running statistics.
func batchNormEval(x *t4, scale, bias, mean, variance []float64, eps float64) {
	for n := 0; n < x.n; n++ {
		for c := 0; c < x.c; c++ {
			inv := 1 / math.Sqrt(variance[c]+eps)
			for i := 0; i < x.h*x.w; i++ {
				k := (n*x.c+c)*x.h*x.w + i
				x.d[k] = (x.d[k]-mean[c])*inv*scale[c] + bias[c]
			}
		}
	}
}

// refLoss is the mean softmax cross-entropy of the network s with parameters
// p (by name) on the batch (image, label), in float64; batch norm uses the
// batch's statistics (training mode).
func refLoss(s *spec, p map[string][]float64, image []float32, label []int64) (float64, error) {
	return refLossMode(s, p, image, label, true)
}

// refLossMode is refLoss with batch norm in training mode (batch statistics)
// or evaluation mode (the running statistics l3.bn.mean, l3.bn.var).
func refLossMode(s *spec, p map[string][]float64, image []float32, label []int64, train bool) (float64, error) {
	n := s.Batch
	img := newT4(n, s.C, s.H, s.W)
	for i, v := range image {
		img.d[i] = float64(v)
	}
	outs := make([]*t4, len(s.Layers))
	used := make([]bool, len(s.Layers))
	for i, l := range s.Layers {
		x := img
		if len(l.Inputs) > 0 {
			var xs []*t4
			for _, j := range l.Inputs {
				xs = append(xs, outs[j])
				used[j] = true
			}
			x = concatPadded(xs)
		}
		w, b := p[fmt.Sprintf("l%d.conv.w", i)], p[fmt.Sprintf("l%d.conv.b", i)]
		if len(w) != l.Filters*x.c*l.KH*l.KW || len(b) != l.Filters {
			return 0, fmt.Errorf("layer %d: parameter sizes %d, %d do not fit", i, len(w), len(b))
		}
		y := convSame(x, w, b, l.Filters, l.KH, l.KW, l.SH, l.SW)
		if l.BN && train {
			batchNormTrain(y, p[fmt.Sprintf("l%d.bn.scale", i)], p[fmt.Sprintf("l%d.bn.bias", i)], s.BNEps)
		} else if l.BN {
			batchNormEval(y, p[fmt.Sprintf("l%d.bn.scale", i)], p[fmt.Sprintf("l%d.bn.bias", i)],
				p[fmt.Sprintf("l%d.bn.mean", i)], p[fmt.Sprintf("l%d.bn.var", i)], s.BNEps)
		}
		for k, v := range y.d {
			y.d[k] = max(v, 0)
		}
		if l.Pool > 0 {
			y = maxPool(y, l.Pool)
		}
		outs[i] = y
	}
	var head []*t4
	for i, o := range outs {
		if !used[i] {
			head = append(head, o)
		}
	}
	x := concatPadded(head)
	fw, fb := p["head.fc.w"], p["head.fc.b"]
	if len(fw) != s.Classes*x.c || len(fb) != s.Classes {
		return 0, fmt.Errorf("head: parameter sizes %d, %d do not fit %d channels", len(fw), len(fb), x.c)
	}
	var loss float64
	hw := float64(x.h * x.w)
	for i := 0; i < n; i++ {
		feat := make([]float64, x.c)
		for c := range feat {
			for k := 0; k < x.h*x.w; k++ {
				feat[c] += x.d[(i*x.c+c)*x.h*x.w+k]
			}
			feat[c] /= hw
		}
		logits := make([]float64, s.Classes)
		mx := math.Inf(-1)
		for k := range logits {
			logits[k] = fb[k]
			for c, v := range feat {
				logits[k] += fw[k*x.c+c] * v
			}
			mx = max(mx, logits[k])
		}
		var z float64
		for _, v := range logits {
			z += math.Exp(v - mx)
		}
		loss += mx + math.Log(z) - logits[label[i]]
	}
	return loss / float64(n), nil
}
