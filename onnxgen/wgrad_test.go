package onnxgen

import (
	"testing"

	"github.com/nas-project/nas/onnxgen/graph"
)

func geom(c, h, f, k, s int) convGeom {
	g := convGeom{C: c, H: h, W: h, F: f, KH: k, KW: k, SH: s, SW: s}
	g.PT, g.PB, g.HO = samePadding(g.H, g.KH, g.SH)
	g.PL, g.PR, g.WO = samePadding(g.W, g.KW, g.SW)
	g.YH, g.YW = g.HO, g.WO
	return g
}

func TestChooseWeightGrad(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    convGeom
		want WeightGrad
		why  string
	}{
		{"1x1", geom(36, 32, 36, 1, 1), WeightGradColsX, "the input is its own im2col"},
		{"3x3 36 to 36", geom(36, 32, 36, 3, 1), WeightGradColsX, "the fastest measured; no candidate predicted 10% faster"},
		{"5x5 24 to 36", geom(24, 32, 36, 5, 1), WeightGradColsX, "separable predicted only 1% faster (measured 11%): within the margin"},
		{"7x7 36 to 36", geom(36, 32, 36, 7, 1), WeightGradSeparable, "one-hot columns cost 49/36 of the contraction; two passes cost 14/36"},
		{"7x7 24 to 36", geom(24, 32, 36, 7, 1), WeightGradSeparable, "as above"},
		{"5x5 wide concatenation", geom(108, 32, 36, 5, 1), WeightGradColsDz, "dz's columns are a third of x's"},
		{"3x3 wide concatenation", geom(84, 32, 36, 3, 1), WeightGradColsDz, "the earlier form, within the margin"},
		{"3x3 stride 2", geom(36, 32, 48, 3, 2), WeightGradColsX, "cols-dz needs stride 1; separable within the margin"},
		{"tiny", geom(1, 8, 4, 3, 1), WeightGradColsX, "below the measured range: the earlier form"},
		{"tiny and wide", geom(8, 8, 4, 7, 1), WeightGradColsDz, "below the measured range: the earlier form"},
	} {
		if got := chooseWeightGrad(tc.g); got != tc.want {
			c, _ := weightGradCost(tc.g, tc.want)
			h, _ := weightGradCost(tc.g, got)
			t.Errorf("%s: chose %v (%.0f ns/image), want %v (%.0f): %s", tc.name, got, h, tc.want, c, tc.why)
		}
	}
}

// TestWeightGradFormsBuild builds every form on odd geometries: the
// builder's shape checks hold and the output is [F, C, KH, KW]. (Their
// values are checked in internal/gradcheck and BenchmarkConvWeightGrad.)
func TestWeightGradFormsBuild(t *testing.T) {
	for _, s := range []ConvShape{
		{C: 3, H: 7, W: 9, F: 2, KH: 3, KW: 5, SH: 1, SW: 1},
		{C: 4, H: 7, W: 9, F: 5, KH: 7, KW: 1, SH: 2, SW: 3},
		{C: 2, H: 5, W: 4, F: 3, KH: 5, KW: 5, SH: 3, SW: 2},
		{C: 2, H: 5, W: 4, F: 3, KH: 1, KW: 1, SH: 2, SW: 1},
	} {
		for _, f := range append([]WeightGrad{WeightGradAuto}, WeightGradForms()...) {
			m, err := CompileWeightGrad(s, f)
			if err != nil {
				t.Fatalf("%+v %v: %v", s, f, err)
			}
			out := m.GetGraph().GetOutput()[0].GetType().GetTensorType().GetShape().GetDim()
			var dims []int64
			for _, d := range out {
				dims = append(dims, d.GetDimValue())
			}
			if want := []int64{int64(s.F), int64(s.C), int64(s.KH), int64(s.KW)}; graph.DimsString(dims) != graph.DimsString(want) {
				t.Errorf("%+v %v: output %v, want %v", s, f, dims, want)
			}
		}
	}
}
