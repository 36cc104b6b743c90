package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nas-project/nas/onnxgen"
	"google.golang.org/protobuf/proto"
)

// initParams draws He-initialised weights and small non-zero biases, so that
// bias gradients are exercised with non-trivial values.
func initParams(rng *rand.Rand, names []string, shapes [][]int64) [][]float32 {
	out := make([][]float32, len(names))
	for i, s := range shapes {
		n := int64(1)
		for _, d := range s {
			n *= d
		}
		fanIn := int64(1)
		for _, d := range s[1:] {
			fanIn *= d
		}
		std, mean := math.Sqrt(2/float64(fanIn)), 0.0
		if len(s) == 1 {
			std = 0.1
		}
		if strings.HasSuffix(names[i], ".bn.scale") || strings.HasSuffix(names[i], ".bn.var") {
			mean = 1 // around PyTorch's initial scale and running variance
		}
		out[i] = make([]float32, n)
		for k := range out[i] {
			out[i][k] = float32(mean + rng.NormFloat64()*std)
		}
	}
	return out
}

func randomBatch(rng *rand.Rand, n, c, h, w, classes int) ([]float32, []int64) {
	img := make([]float32, n*c*h*w)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	lab := make([]int64, n)
	for i := range lab {
		lab[i] = int64(rng.IntN(classes))
	}
	return img, lab
}

type sgdCase struct {
	name     string
	why      string
	arch     onnxgen.Arch
	c, h, w  int
	classes  int
	batch    int
	mu, wd   float32
	nesterov bool
	bn       bool
	blocks   bool // image channel 0 in constant 2x2 blocks, l0.conv.w zero on the other channels (ties in 2x2 windows)
}

// isRunningStat: batch norms' running mean and variance have no momentum buffer.
func isRunningStat(n string) bool {
	return strings.HasSuffix(n, ".bn.mean") || strings.HasSuffix(n, ".bn.var")
}

func TestSGDStepsMatchPyTorch(t *testing.T) {
	cases := []sgdCase{
		{
			name: "strides_and_padded_skip", why: "stride 2 and 3 layers whose smaller outputs are zero-padded into a concatenation and into the head",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 2, SW: 2, Filters: 4},
				{KH: 1, KW: 7, SH: 1, SW: 1, Filters: 3},
				{KH: 3, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}},
				{KH: 5, KW: 5, SH: 3, SW: 3, Filters: 3, Inputs: []int{1}},
			}},
			c: 3, h: 8, w: 8, classes: 5, batch: 6, mu: 0.9, wd: 1e-4,
		},
		{
			name: "nesterov_nonsquare_image", why: "Nesterov momentum; a non-square image with a 7x7 and mixed strides 1x2",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 7, KW: 7, SH: 1, SW: 1, Filters: 3},
				{KH: 3, KW: 5, SH: 1, SW: 2, Filters: 4, Inputs: []int{0}},
				{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}},
			}},
			c: 2, h: 9, w: 7, classes: 4, batch: 5, mu: 0.9, wd: 1e-4, nesterov: true,
		},
		{
			name: "dense_skips", why: "every layer reads all earlier ones (densified skips); plain SGD without momentum",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 4},
				{KH: 3, KW: 3, SH: 2, SW: 2, Filters: 4, Inputs: []int{0}},
				{KH: 5, KW: 3, SH: 1, SW: 1, Filters: 3, Inputs: []int{0, 1}},
				{KH: 1, KW: 3, SH: 2, SW: 1, Filters: 3, Inputs: []int{0, 1, 2}},
			}},
			c: 1, h: 10, w: 10, classes: 3, batch: 4, mu: 0, wd: 5e-4,
		},
		{
			name: "batch_norm", why: "batch norm in training mode (batch statistics, running mean/var updated) with strides and a padded skip",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 4},
				{KH: 3, KW: 1, SH: 2, SW: 2, Filters: 3, Inputs: []int{0}},
				{KH: 1, KW: 5, SH: 1, SW: 1, Filters: 3, Inputs: []int{0, 1}},
			}},
			c: 3, h: 8, w: 9, classes: 4, batch: 5, mu: 0.9, wd: 1e-4, nesterov: true, bn: true,
		},
		{
			name: "pooling_odd_skip", why: "2x2 max pools on odd sizes (9x8 to 4x4, a strided 3x2 to 1x1) with batch norm; a pooled output zero-padded into a skip of a layer that does not pool, and into the head",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 4},
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 3, Inputs: []int{0}, Pool: 2},
				{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 3, Inputs: []int{0, 1}},
				{KH: 3, KW: 3, SH: 2, SW: 2, Filters: 2, Inputs: []int{1}, Pool: 2},
			}},
			c: 3, h: 9, w: 8, classes: 4, batch: 5, mu: 0.9, wd: 1e-4, nesterov: true, bn: true,
		},
		{
			name: "pooling_ties", why: "exact ties in every window of the first step: image channel 0 is made of constant 2x2 blocks, channel 1 is random, and layer 0, a 1x1 convolution, starts with zero weights on channel 1, so each window holds four equal values; PyTorch routes the gradient to the first (row-major), and so must the mask: the weights on channel 1 get the random pixel at that position",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 3, Pool: 2},
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 3, Inputs: []int{0}},
			}},
			c: 2, h: 8, w: 6, classes: 3, batch: 4, mu: 0.9, wd: 1e-4, blocks: true,
		},
	}
	const steps, lr = 2, 0.05
	worst, worstAt := 0.0, ""
	worstBig := 0.0                  // over tensors whose update exceeds 1e-4 (not dominated by the 1e-6 floor)
	refs := map[string]torchResult{} // PyTorch's steps per case, shared by the forms
	for _, tc := range cases {
		for _, form := range allForms() {
			t.Run(tc.name+"/"+form.String(), func(t *testing.T) {
				m, names, shapes := compile(t, tc.arch, tc.c, tc.h, tc.w, tc.classes, true, tc.mu, tc.wd, tc.nesterov, tc.bn, form)
				model, err := proto.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
				params := initParams(rng, names, shapes)
				img, lab := randomBatch(rng, tc.batch, tc.c, tc.h, tc.w, tc.classes)
				if tc.blocks {
					for i := range img {
						x, y, p := i%tc.w, (i/tc.w)%tc.h, i/(tc.w*tc.h)
						if p%tc.c == 0 {
							img[i] = img[(p*tc.h+y&^1)*tc.w+x&^1]
						}
					}
					for k := range params[0] { // l0.conv.w [F, C, 1, 1]
						if k%tc.c != 0 {
							params[0][k] = 0
						}
					}
				}
				ins := []string{"image", "label", "lr"}
				outs := []string{"loss", "correct"}
				for _, n := range names {
					outs = append(outs, n+".next")
				}
				for _, n := range names {
					ins = append(ins, n)
				}
				for _, n := range names {
					if !isRunningStat(n) {
						ins = append(ins, n+".mom")
						outs = append(outs, n+".mom.next")
					}
				}
				s := newSession(t, model, ins, outs)
				w := params
				mom := make([][]float32, len(names))
				for i := range mom {
					mom[i] = make([]float32, len(params[i]))
				}
				var losses []float64
				var corrects []int64
				var after [][][]float32
				for k := 0; k < steps; k++ {
					feeds := []feed{
						{name: "image", shape: []int64{int64(tc.batch), int64(tc.c), int64(tc.h), int64(tc.w)}, f32: img},
						{name: "label", shape: []int64{int64(tc.batch)}, i64: lab},
						{name: "lr", shape: []int64{1}, f32: []float32{lr}},
					}
					for i, n := range names {
						feeds = append(feeds, feed{name: n, shape: shapes[i], f32: w[i]})
					}
					for i, n := range names {
						if !isRunningStat(n) {
							feeds = append(feeds, feed{name: n + ".mom", shape: shapes[i], f32: mom[i]})
						}
					}
					r := s.run(t, feeds)
					losses = append(losses, float64(r.f32["loss"][0]))
					corrects = append(corrects, r.i64["correct"][0])
					nw, nm := make([][]float32, len(names)), make([][]float32, len(names))
					for i, n := range names {
						nw[i], nm[i] = r.f32[n+".next"], r.f32[n+".mom.next"]
					}
					w, mom = nw, nm
					after = append(after, w)
				}
				sp := &spec{C: tc.c, H: tc.h, W: tc.w, Classes: tc.classes, Batch: tc.batch, LR: lr,
					Momentum: float64(tc.mu), WeightDecay: float64(tc.wd), Nesterov: tc.nesterov, Steps: steps,
					BNEps: 1e-5, BNMomentum: 0.1}
				for _, l := range tc.arch.Layers {
					sp.Layers = append(sp.Layers, specLayer{KH: l.KH, KW: l.KW, SH: l.SH, SW: l.SW, Filters: l.Filters, Inputs: append([]int{}, l.Inputs...), BN: tc.bn, Pool: l.Pool})
				}
				var flat []float32
				for i, n := range names {
					sp.Params = append(sp.Params, specParam{Name: n, Shape: shapes[i]})
					flat = append(flat, params[i]...)
				}
				ref, ok := refs[tc.name]
				if !ok {
					ref = runTorch(t, sp, flat, img, lab)
					refs[tc.name] = ref
				}
				for k := 0; k < steps; k++ {
					if d := math.Abs(losses[k] - ref.Loss[k]); d > 1e-5*(1+math.Abs(ref.Loss[k])) {
						t.Errorf("step %d: loss %.7g, PyTorch %.7g", k+1, losses[k], ref.Loss[k])
					}
					if corrects[k] != ref.Correct[k] {
						t.Errorf("step %d: correct %d, PyTorch %d", k+1, corrects[k], ref.Correct[k])
					}
					off := 0
					for i, n := range names {
						var diff, upd float64
						for j, v := range after[k][i] {
							tv := ref.Params[k][off+j]
							diff = max(diff, math.Abs(float64(v)-tv))
							upd = max(upd, math.Abs(tv-float64(params[i][j])))
						}
						off += len(params[i])
						if upd > 1e-4 {
							worstBig = max(worstBig, diff/upd)
						}
						if ratio := diff / upd; ratio > worst {
							worst, worstAt = ratio, fmt.Sprintf("%s step %d %s (update %.3g)", tc.name, k+1, n, upd)
						}
						if diff > 1e-4*upd+1e-6 {
							t.Errorf("step %d: %s: max |w_onnx - w_torch| = %.3g > 1e-4 * max |w_torch - w_init| (%.3g) + 1e-6", k+1, n, diff, upd)
						}
					}
				}
			})
		}
	}
	t.Logf("worst max|w_onnx - w_torch| / max|w_torch - w_init| over all parameters and steps: %.3g at %s; %.3g over updates > 1e-4", worst, worstAt, worstBig)
}
