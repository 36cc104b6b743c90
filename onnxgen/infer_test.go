package onnxgen

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nas-project/nas/onnxgen/graph"
)

// TestInitParams: He-normal weights with the documented spread, zero biases,
// batch norm's identity statistics, one seed one result.
func TestInitParams(t *testing.T) {
	a := paperC()
	ps, err := InitParams(a, cifar, 10, Options{Seed: 7, BatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := InitParams(a, cifar, 10, Options{Seed: 7, BatchNorm: true})
	if d := cmp.Diff(ps, again); d != "" {
		t.Errorf("same seed, different parameters (-first +second):\n%s", d)
	}
	other, _ := InitParams(a, cifar, 10, Options{Seed: 8, BatchNorm: true})
	if slices.Equal(ps[0].Data, other[0].Data) {
		t.Error("seeds 7 and 8 give the same l0.conv.w")
	}
	if len(ps) != 15*6+2 || ps[0].Name != "l0.conv.w" || ps[len(ps)-1].Name != "head.fc.b" {
		t.Fatalf("%d parameters from %s to %s", len(ps), ps[0].Name, ps[len(ps)-1].Name)
	}
	for _, p := range ps {
		switch {
		case len(p.Shape) > 1:
			fanIn := float64(len(p.Data)) / float64(p.Shape[0])
			var s, s2 float64
			for _, v := range p.Data {
				s += float64(v)
				s2 += float64(v) * float64(v)
			}
			n := float64(len(p.Data))
			mean, std, want := s/n, math.Sqrt(s2/n-(s/n)*(s/n)), math.Sqrt(2/fanIn)
			if math.Abs(mean) > 4*want/math.Sqrt(n) || math.Abs(std/want-1) > 6/math.Sqrt(n)+0.01 {
				t.Errorf("%s: mean %.4g std %.4g, want 0 and %.4g (fan_in %g)", p.Name, mean, std, want, fanIn)
			}
		case strings.HasSuffix(p.Name, ".scale") || strings.HasSuffix(p.Name, ".var"):
			if slices.ContainsFunc(p.Data, func(v float32) bool { return v != 1 }) {
				t.Errorf("%s is not all 1", p.Name)
			}
		default:
			if slices.ContainsFunc(p.Data, func(v float32) bool { return v != 0 }) {
				t.Errorf("%s is not all 0", p.Name)
			}
		}
	}
	// The head reads layer 14 only (48 channels); layer 9 reads 36+36+48.
	want := map[string][]int64{"head.fc.w": {10, 48}, "l9.conv.w": {36, 120, 5, 5}}
	for _, p := range ps {
		if w, ok := want[p.Name]; ok && !slices.Equal(p.Shape, w) {
			t.Errorf("%s has shape %v, want %v", p.Name, p.Shape, w)
		}
	}
}

// TestCompileParams: given parameters go into the model unchanged and
// ParamsOf reads them back; parameters of the wrong shape are rejected.
func TestCompileParams(t *testing.T) {
	a, err := Parse("kh3 kw3 f4 | kh1 kw5 sh2 sw2 f6 in0")
	if err != nil {
		t.Fatal(err)
	}
	in := Input{C: 2, H: 6, W: 6}
	ps, err := InitParams(a, in, 3, Options{Seed: 3, BatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(a, in, 3, Options{BatchNorm: true, Params: ps})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParamsOf(m)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ps, back); d != "" {
		t.Errorf("ParamsOf(Compile(params)) (-want +got):\n%s", d)
	}
	// Without Params, Compile uses InitParams with the same options.
	m2, err := Compile(a, in, 3, Options{BatchNorm: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if back2, _ := ParamsOf(m2); !cmp.Equal(ps, back2) {
		t.Error("Compile without Params does not use InitParams(seed)")
	}
	bad := slices.Clone(ps)
	bad[2] = Param{Name: bad[2].Name, Shape: []int64{5}, Data: make([]float32, 5)}
	if _, err := Compile(a, in, 3, Options{BatchNorm: true, Params: bad}); err == nil || !strings.Contains(err.Error(), "onnxgen: parameter 2 is l0.bn.scale [5], want l0.bn.scale [4]") {
		t.Errorf("wrong shape: %v", err)
	}
	if _, err := Compile(a, in, 3, Options{Params: ps}); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Errorf("batch norm parameters without batch norm: %v", err)
	}
	short := slices.Clone(ps)
	short[0].Data = short[0].Data[:3]
	if _, err := Compile(a, in, 3, Options{BatchNorm: true, Params: short}); err == nil {
		t.Error("parameter with too little data accepted")
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string // why
		o    Options
		ok   bool
	}{
		{"zero value is valid", Options{}, true},
		{"explicit epsilon", Options{BatchNorm: true, BNEpsilon: 1e-3}, true},
		{"negative epsilon", Options{BNEpsilon: -1}, false},
		{"NaN epsilon", Options{BNEpsilon: float32(math.NaN())}, false},
		{"infinite epsilon", Options{BNEpsilon: float32(math.Inf(1))}, false},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok || (err != nil && !strings.HasPrefix(err.Error(), "onnxgen: ")) {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
	a, _ := Parse("kh3 kw3 f4")
	if _, err := Compile(a, Input{1, 4, 4}, 2, Options{BNEpsilon: -1}); err == nil {
		t.Error("Compile accepts invalid options")
	}
}

// TestCompileEpsilon: BNEpsilon reaches the graph; zero means the default.
func TestCompileEpsilon(t *testing.T) {
	a, _ := Parse("kh3 kw3 f4")
	for _, tt := range []struct {
		eps  float32
		want string
	}{{0, "epsilon = 1e-05"}, {1e-3, "epsilon = 0.001"}} {
		m, err := Compile(a, Input{1, 4, 4}, 2, Options{BatchNorm: true, BNEpsilon: tt.eps})
		if err != nil {
			t.Fatal(err)
		}
		if txt := graph.Text(m); !strings.Contains(txt, tt.want) {
			t.Errorf("BNEpsilon %g: no %q in\n%s", tt.eps, tt.want, txt)
		}
	}
}
