package gradcheck

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nas-project/nas/onnxgen"
	"google.golang.org/protobuf/proto"
)

// TestGradientsMatchFiniteDifferences checks the training graph's backward
// pass against central differences of an independent float64 forward pass
// (ref_test.go).
//
// The ONNX gradient is read from one step with lr = 1, momentum 0 and weight
// decay 0: g = w - w.next, computed in float64 from the float32 values (its
// error is at most half an ulp of w, ~3e-8 for |w| < 1). The finite
// differences are central, (L(w+h) - L(w-h)) / 2h with h = 1e-6, entirely in
// float64, on the same float32 parameter values: their truncation and
// rounding errors are ~1e-10, so the differences measure ORT's float32
// arithmetic only (unless a ReLU input lies within ~1e-6 of zero, which the
// Gaussian data makes improbable). Every coordinate of every parameter is
// checked:
//
//	|g_onnx - g_fd| <= 1e-3·|g_fd| + 1e-4·max|g_fd over the tensor| + 1e-6
//
// (A convolution's bias feeding a batch norm has a zero gradient in exact
// arithmetic: it is compared all the same, but not required to be non-zero.)
// Before that, the evaluation graph's and the training step's losses must
// equal the float64 ones to 1e-5 relative: the forward passes agree.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	cases := []struct {
		name, why string
		arch      onnxgen.Arch
		c, h, w   int
		classes   int
		batch     int
		bn        bool
	}{
		{
			name: "kernels", why: "1x1, 7x7, 1x7 and 7x1 kernels at stride 1; two outputs concatenated into the head",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 3},
				{KH: 7, KW: 7, SH: 1, SW: 1, Filters: 3, Inputs: []int{0}},
				{KH: 1, KW: 7, SH: 1, SW: 1, Filters: 2, Inputs: []int{1}},
				{KH: 7, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}},
			}},
			c: 2, h: 9, w: 7, classes: 4, batch: 3,
		},
		{
			name: "strides", why: "strides 2 and 3 (and 1x2, 3x1), whose smaller outputs are zero-padded in skips and in the head",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 2, SW: 2, Filters: 3},
				{KH: 3, KW: 3, SH: 3, SW: 3, Filters: 2, Inputs: []int{0}},
				{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 2},
				{KH: 5, KW: 3, SH: 1, SW: 2, Filters: 2, Inputs: []int{0, 1, 2}},
				{KH: 1, KW: 3, SH: 3, SW: 1, Filters: 2, Inputs: []int{1, 2}},
			}},
			c: 3, h: 10, w: 11, classes: 3, batch: 3,
		},
		{
			name: "batch_norm", why: "training-mode batch norm's backward, with a stride-2 layer and a padded skip",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 3},
				{KH: 1, KW: 3, SH: 2, SW: 2, Filters: 2, Inputs: []int{0}},
				{KH: 3, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}},
			}},
			c: 2, h: 7, w: 8, classes: 3, batch: 4, bn: true,
		},
		{
			name: "pooling", why: "2x2 max pools on odd sizes (9x7 to 4x3, 4x3 to 2x1, a strided 2x2 to 1x1): the first-maximum mask, the crop and the zero rows; pooled outputs zero-padded into a skip and into the head",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 3, Pool: 2},
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 2, Inputs: []int{0}, Pool: 2},
				{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}},
				{KH: 3, KW: 3, SH: 2, SW: 2, Filters: 2, Inputs: []int{0}, Pool: 2},
			}},
			c: 2, h: 9, w: 7, classes: 3, batch: 3,
		},
		{
			name: "pooling_bn", why: "a 3x3 max pool with stride 3 after batch norm, its output read by a later layer",
			arch: onnxgen.Arch{Layers: []onnxgen.Layer{
				{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 3, Pool: 3},
				{KH: 1, KW: 3, SH: 1, SW: 1, Filters: 2, Inputs: []int{0}},
			}},
			c: 1, h: 8, w: 7, classes: 3, batch: 4, bn: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, names, shapes := compile(t, tc.arch, tc.c, tc.h, tc.w, tc.classes, true, 0, 0, false, tc.bn, onnxgen.WeightGradAuto)
			em, _, _ := compile(t, tc.arch, tc.c, tc.h, tc.w, tc.classes, false, 0, 0, false, tc.bn, onnxgen.WeightGradAuto)
			rng := rand.New(rand.NewPCG(2, uint64(len(tc.name))))
			params := initParams(rng, names, shapes)
			img, lab := randomBatch(rng, tc.batch, tc.c, tc.h, tc.w, tc.classes)
			imgShape := []int64{int64(tc.batch), int64(tc.c), int64(tc.h), int64(tc.w)}
			base := []feed{{name: "image", shape: imgShape, f32: img}, {name: "label", shape: []int64{int64(tc.batch)}, i64: lab}}

			sp := &spec{C: tc.c, H: tc.h, W: tc.w, Classes: tc.classes, Batch: tc.batch, BNEps: 1e-5}
			for _, l := range tc.arch.Layers {
				sp.Layers = append(sp.Layers, specLayer{KH: l.KH, KW: l.KW, SH: l.SH, SW: l.SW, Filters: l.Filters, Inputs: l.Inputs, BN: tc.bn, Pool: l.Pool})
			}
			p64 := map[string][]float64{}
			for i, n := range names {
				p64[n] = make([]float64, len(params[i]))
				for j, v := range params[i] {
					p64[n][j] = float64(v)
				}
			}
			want, err := refLoss(sp, p64, img, lab)
			if err != nil {
				t.Fatal(err)
			}

			// Forward: the evaluation graph's loss.
			eb, _ := proto.Marshal(em)
			es := newSession(t, eb, append([]string{"image", "label"}, names...), []string{"loss", "correct"})
			feeds := append([]feed(nil), base...)
			for i, n := range names {
				feeds = append(feeds, feed{name: n, shape: shapes[i], f32: params[i]})
			}
			// (With batch norm the evaluation graph uses the running statistics.)
			wantEval, err := refLossMode(sp, p64, img, lab, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := float64(es.run(t, feeds).f32["loss"][0]); math.Abs(got-wantEval) > 1e-5*math.Abs(wantEval) {
				t.Fatalf("evaluation loss %.8g, float64 reference %.8g", got, wantEval)
			}

			// The finite differences, once: they do not depend on the graph.
			const h = 1e-6
			fds, scales := map[string][]float64{}, map[string]float64{}
			for i, n := range names {
				if isRunningStat(n) {
					continue // state, not trained: checked against PyTorch in sgd_test.go
				}
				fd := make([]float64, len(params[i]))
				scale := 0.0
				for j := range fd {
					orig := p64[n][j]
					p64[n][j] = orig + h
					lp, _ := refLoss(sp, p64, img, lab)
					p64[n][j] = orig - h
					lm, _ := refLoss(sp, p64, img, lab)
					p64[n][j] = orig
					fd[j] = (lp - lm) / (2 * h)
					scale = max(scale, math.Abs(fd[j]))
				}
				fds[n], scales[n] = fd, scale
				if scale == 0 && !(tc.bn && strings.HasSuffix(n, ".conv.b")) {
					t.Errorf("%s: zero gradient everywhere: the check would be vacuous", n)
				}
			}

			// Backward: one step with lr 1, no momentum, no weight decay, in
			// every weight-gradient formulation.
			worst := 0.0
			for _, form := range allForms() {
				m, _, _ := compile(t, tc.arch, tc.c, tc.h, tc.w, tc.classes, true, 0, 0, false, tc.bn, form)
				tb, _ := proto.Marshal(m)
				ins, outs := []string{"image", "label", "lr"}, []string{"loss", "correct"}
				feeds = append(append([]feed(nil), base...), feed{name: "lr", shape: []int64{1}, f32: []float32{1}})
				for i, n := range names {
					ins, outs = append(ins, n), append(outs, n+".next")
					feeds = append(feeds, feed{name: n, shape: shapes[i], f32: params[i]})
				}
				for i, n := range names {
					if !isRunningStat(n) {
						ins = append(ins, n+".mom")
						feeds = append(feeds, feed{name: n + ".mom", shape: shapes[i], f32: make([]float32, len(params[i]))})
					}
				}
				r := newSession(t, tb, ins, outs).run(t, feeds)
				if got := float64(r.f32["loss"][0]); math.Abs(got-want) > 1e-5*math.Abs(want) {
					t.Errorf("%v: training-step loss %.8g, float64 reference %.8g", form, got, want)
				}
				for i, n := range names {
					fd, ok := fds[n]
					if !ok {
						continue
					}
					next := r.f32[n+".next"]
					bad := 0
					for j, v := range fd {
						g := float64(params[i][j]) - float64(next[j])
						tol := 1e-3*math.Abs(v) + 1e-4*scales[n] + 1e-6
						worst = max(worst, math.Abs(g-v)/tol)
						if math.Abs(g-v) > tol {
							if bad++; bad <= 3 {
								t.Errorf("%v: %s[%d]: gradient %.6g, finite difference %.6g", form, n, j, g, v)
							}
						}
					}
				}
			}
			t.Logf("worst |g_onnx - g_fd| / tolerance: %.3g", worst)
		})
	}
}
