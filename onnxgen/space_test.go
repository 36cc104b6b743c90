package onnxgen

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// chain is a space without skip connections, for the Anchors rule.
var chain = Space{Name: "chain", KernelHeights: []int{3}, KernelWidths: []int{3}, Filters: []int{8, 16}, MaxLayers: 3}

func TestSpaceParseArch(t *testing.T) {
	tests := []struct {
		name  string
		space Space
		in    string
		pos   int
		msg   string // "" for success
		why   string
	}{
		{"v1 ok", SpaceV1, "kh3 kw3 f36 | kh5 kw5 f48 in0 | kh7 kw1 sh1 f64 in0 in1", 0, "", "values in the space; sh1 is the default"},
		{"v1 kernel", SpaceV1, "kh3 kw3 f36 | kh9 kw3 f36", 4, `onnxgen: token 4 "kh9": filter height 9 not in space v1 (want 1, 3, 5, 7)`, "kernel outside the space"},
		{"v1 filters", SpaceV1, "kh3 kw3 f37", 2, `onnxgen: token 2 "f37": number of filters 37 not in space v1 (want 24, 36, 48, 64)`, "filters outside the space"},
		{"v1 stride", SpaceV1, "kh3 kw3 sw2 f36", 2, `onnxgen: token 2 "sw2": stride width 2 not in space v1 (want 1)`, "v1 searches no strides"},
		{"v2 stride", SpaceV2, "kh3 kw3 sh3 sw2 f36 | kh3 kw3 sh4 f24 in0", 8, `onnxgen: token 8 "sh4": stride height 4 not in space v2 (want 1, 2, 3)`, "v2 strides are 1..3"},
		{"v1 depth", SpaceV1, strings.Repeat("kh1 kw1 f24 | ", 15) + "kh1 kw1 f24", 59, `onnxgen: token 59 "|": 16 layers, more than space v1 allows (want at most 15)`, "reported at the | that opens the extra layer"},
		{"v1 15 layers", SpaceV1, strings.Repeat("kh1 kw1 f24 | ", 14) + "kh1 kw1 f24", 0, "", "exactly MaxLayers is fine"},
		{"default stride not allowed", Space{Name: "s2", KernelHeights: []int{3}, KernelWidths: []int{3}, Filters: []int{8}, StrideHeights: []int{2}, MaxLayers: 1}, "kh3 kw3 f8", 3, `onnxgen: token 3 (end): stride height 1 not in space s2 (want 2)`, "an omitted stride is 1, reported at the layer's end"},
		{"unnamed", Space{KernelHeights: []int{3}, KernelWidths: []int{3}, Filters: []int{8}, MaxLayers: 1}, "kh3 kw5 f8", 1, `onnxgen: token 1 "kw5": filter width 5 not in the space (want 3)`, "a space without a name"},
		{"chain ok", chain, "kh3 kw3 f8 | kh3 kw3 f16 in0 | kh3 kw3 f8 in1", 0, "", "each layer fed by the previous one"},
		{"v1 pool", SpaceV1, "kh3 kw3 f36 | kh3 kw3 f36 p2 in0", 7, `onnxgen: token 7 "p2": pool size 2 not in space v1 (want 0)`, "v1 and v2 have no pooling"},
		{"v2 p0", SpaceV2, "kh3 kw3 f36 p0", 0, "", "an explicit p0 is no pooling, in every space"},
		{"v3 pool", SpaceV3, "kh3 kw3 f36 p2 | kh3 kw3 sh2 f48 p2 in0", 0, "", "v3 pools 2x2"},
		{"v3 pool 3", SpaceV3, "kh3 kw3 f36 p3", 3, `onnxgen: token 3 "p3": pool size 3 not in space v3 (want 0, 2)`, "v3 pools 2x2 only"},
		{"v3 wide filters", SpaceV3, "kh3 kw3 f128", 2, `onnxgen: token 2 "f128": number of filters 128 not in space v3 (want 24, 36, 48, 64)`, "128 filters are v3-wide's"},
		{"v3-wide", SpaceV3Wide, "kh3 kw3 f128 p2 | kh1 kw1 f96 in0", 0, "", "v3-wide has 96 and 128 filters"},
		{"pool only", Space{Name: "p2", KernelHeights: []int{3}, KernelWidths: []int{3}, Filters: []int{8}, Pools: []int{2}, MaxLayers: 1}, "kh3 kw3 f8", 3, `onnxgen: token 3 (end): pool size 0 not in space p2 (want 2)`, "an omitted pool is none, reported at the layer's end"},
		{"chain skip", chain, "kh3 kw3 f8 | kh3 kw3 f16 in0 | kh3 kw3 f8 in0 in1", 12, `onnxgen: token 12 "in0": layer 2 cannot be fed by layer 0: space chain has no skip connections (want only in1)`, "skips are not searched"},
		{"chain image", chain, "kh3 kw3 f8 | kh3 kw3 f16", 7, `onnxgen: token 7 (end): layer 1 takes the image: space chain has no skip connections (want only in0)`, "a chain layer must name its predecessor"},
		{"syntax first", SpaceV1, "kh9 kw3 f36 | kh3", 5, `onnxgen: token 5 (end): layer 1 has no filter width (want a kwN token)`, "Parse errors come before space errors"},
		{"invalid space", Space{Name: "bad", KernelHeights: []int{2}, KernelWidths: []int{3}, Filters: []int{8}, MaxLayers: 1}, "kh3 kw3 f8", -1, `onnxgen: space bad: filter height 2 is even (want odd sizes, so that 'same' padding is symmetric)`, "the space is checked first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.space.ParseArch(tt.in)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("ParseArch(%q): %v (%s)", tt.in, err, tt.why)
				}
				if err := tt.space.Check(a); err != nil {
					t.Errorf("Check(ParseArch(s)) = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.msg {
				t.Fatalf("ParseArch(%q) error\nhave %v\nwant %s\n(%s)", tt.in, err, tt.msg, tt.why)
			}
			var pe *ParseError
			if errors.As(err, &pe) != (tt.pos >= 0) {
				t.Fatalf("error %T: *ParseError expected only with a position", err)
			}
			if pe != nil && pe.Pos != tt.pos {
				t.Errorf("Pos = %d, want %d", pe.Pos, tt.pos)
			}
		})
	}
}

func TestSpaceCheck(t *testing.T) {
	l := func(k, s, f int, in ...int) Layer { return Layer{k, k, s, s, f, in, 0} }
	tests := []struct {
		name  string
		space Space
		a     Arch
		msg   string
		why   string
	}{
		{"ok", SpaceV2, Arch{Layers: []Layer{l(3, 2, 24), l(5, 1, 36, 0)}}, "", "in v2"},
		{"kernel", SpaceV1, Arch{Layers: []Layer{l(3, 1, 24), l(9, 1, 36, 0)}}, "onnxgen: layer 1: filter height 9 not in space v1 (want 1, 3, 5, 7)", "errors name the layer"},
		{"stride", SpaceV1, Arch{Layers: []Layer{l(3, 2, 24)}}, "onnxgen: layer 0: stride height 2 not in space v1 (want 1)", "v1 has no strides"},
		{"structure", SpaceV1, Arch{Layers: []Layer{{KH: 3, KW: 3, Filters: 24}}}, "onnxgen: layer 0: stride height 0 is not positive", "Arch.Validate runs first"},
		{"depth", chain, Arch{Layers: []Layer{l(3, 1, 8), l(3, 1, 8, 0), l(3, 1, 8, 1), l(3, 1, 8, 2)}}, "onnxgen: layer 3: 4 layers, more than space chain allows (want at most 3)", "MaxLayers"},
		{"pool in v2", SpaceV2, Arch{Layers: []Layer{{3, 3, 1, 1, 24, nil, 2}}}, "onnxgen: layer 0: pool size 2 not in space v2 (want 0)", "v1 and v2 have no pooling"},
		{"pool in v3", SpaceV3, Arch{Layers: []Layer{{3, 3, 1, 1, 24, nil, 2}, {3, 3, 2, 2, 36, []int{0}, 0}}}, "", "v3 pools 2x2"},
		{"pool 3 in v3", SpaceV3, Arch{Layers: []Layer{{3, 3, 1, 1, 24, nil, 3}}}, "onnxgen: layer 0: pool size 3 not in space v3 (want 0, 2)", "v3 pools 2x2 only"},
		{"wide filters", SpaceV3, Arch{Layers: []Layer{l(3, 1, 128)}}, "onnxgen: layer 0: number of filters 128 not in space v3 (want 24, 36, 48, 64)", "128 filters are v3-wide's"},
		{"wide", SpaceV3Wide, Arch{Layers: []Layer{l(3, 1, 128), l(3, 1, 96, 0)}}, "", "v3-wide has 96 and 128 filters"},
		{"chain skip", chain, Arch{Layers: []Layer{l(3, 1, 8), l(3, 1, 8, 0), l(3, 1, 8, 0, 1)}}, "onnxgen: layer 2: layer 2 cannot be fed by layer 0: space chain has no skip connections (want only in1)", "no skips without anchors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.space.Check(tt.a)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.msg {
				t.Errorf("Check\nhave %q\nwant %q\n(%s)", got, tt.msg, tt.why)
			}
		})
	}
}

func TestSpaceValidate(t *testing.T) {
	ok := func(f func(*Space)) Space { s := SpaceV1.clone(); s.Name = "t"; f(&s); return s }
	tests := []struct {
		name string
		s    Space
		msg  string
		why  string
	}{
		{"v1", SpaceV1, "", "preset"},
		{"v2", SpaceV2, "", "preset"},
		{"nil strides", ok(func(s *Space) { s.StrideHeights, s.StrideWidths = nil, nil }), "", "nil strides mean {1}"},
		{"no kernels", ok(func(s *Space) { s.KernelWidths = nil }), "onnxgen: space t: no filter width options", "kernels are required"},
		{"no filters", ok(func(s *Space) { s.Filters = []int{} }), "onnxgen: space t: no number of filters options", "filters are required"},
		{"even", ok(func(s *Space) { s.KernelHeights = []int{1, 4} }), "onnxgen: space t: filter height 4 is even (want odd sizes, so that 'same' padding is symmetric)", "same padding must be symmetric"},
		{"zero", ok(func(s *Space) { s.Filters = []int{0, 8} }), "onnxgen: space t: number of filters 0 is not in 1..1048576", "positive"},
		{"negative stride", ok(func(s *Space) { s.StrideWidths = []int{-1} }), "onnxgen: space t: stride width -1 is not in 1..1048576", "positive"},
		{"repeat", ok(func(s *Space) { s.Filters = []int{8, 16, 8} }), "onnxgen: space t: number of filters 8 is listed twice", "an option twice would skew the controller"},
		{"v3", SpaceV3, "", "preset"},
		{"v3-wide", SpaceV3Wide, "", "preset"},
		{"pool 1", ok(func(s *Space) { s.Pools = []int{0, 1} }), "onnxgen: space t: pool size 1 is not 0 (none) or in 2..1048576", "a 1x1 pool is no option"},
		{"negative pool", ok(func(s *Space) { s.Pools = []int{-2} }), "onnxgen: space t: pool size -2 is not 0 (none) or in 2..1048576", "no negative pools"},
		{"pool repeat", ok(func(s *Space) { s.Pools = []int{0, 2, 0} }), "onnxgen: space t: pool size 0 is listed twice", "an option twice would skew the controller"},
		{"pool only", ok(func(s *Space) { s.Pools = []int{2} }), "", "every layer pools: allowed (a fixed decision)"},
		{"max layers", ok(func(s *Space) { s.MaxLayers = 0 }), "onnxgen: space t: MaxLayers 0 (want at least 1)", "zero MaxLayers is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.msg {
				t.Errorf("Validate\nhave %q\nwant %q\n(%s)", got, tt.msg, tt.why)
			}
		})
	}
}

func TestDecisions(t *testing.T) {
	v1 := []Decision{
		{"kh", []string{"kh1", "kh3", "kh5", "kh7"}},
		{"kw", []string{"kw1", "kw3", "kw5", "kw7"}},
		{"sh", []string{"sh1"}}, // fixed: v1 does not search strides
		{"sw", []string{"sw1"}},
		{"f", []string{"f24", "f36", "f48", "f64"}},
	}
	if d := cmp.Diff(v1, SpaceV1.Decisions()); d != "" {
		t.Errorf("v1 decisions (-want +got):\n%s", d)
	}
	v2 := []Decision{v1[0], v1[1], {"sh", []string{"sh1", "sh2", "sh3"}}, {"sw", []string{"sw1", "sw2", "sw3"}}, v1[4]}
	if d := cmp.Diff(v2, SpaceV2.Decisions()); d != "" {
		t.Errorf("v2 decisions (-want +got):\n%s", d)
	}
	v3 := append(slices.Clone(v2), Decision{"p", []string{"p0", "p2"}})
	if d := cmp.Diff(v3, SpaceV3.Decisions()); d != "" {
		t.Errorf("v3 decisions (-want +got):\n%s", d)
	}
	wide := slices.Clone(v3)
	wide[4] = Decision{"f", []string{"f24", "f36", "f48", "f64", "f96", "f128"}}
	if d := cmp.Diff(wide, SpaceV3Wide.Decisions()); d != "" {
		t.Errorf("v3-wide decisions (-want +got):\n%s", d)
	}
	// A space whose only pool option is {2} has a fixed p decision; one
	// whose only option is {0} has none.
	fixed := SpaceV1.clone()
	fixed.Pools = []int{2}
	if ds := fixed.Decisions(); len(ds) != 6 || ds[5].Name != "p" || len(ds[5].Tokens) != 1 {
		t.Errorf("Pools {2}: decisions %v, want a fixed p2 last", ds)
	}
	fixed.Pools = []int{0}
	if ds := fixed.Decisions(); len(ds) != 5 {
		t.Errorf("Pools {0}: decisions %v, want no p decision", ds)
	}
	// Every combination the controller can write parses in the space: one
	// token of each decision per layer, anchors as the doc says.
	for _, sp := range []Space{SpaceV2, chain, SpaceV3, SpaceV3Wide} {
		ds := sp.Decisions()
		var layers []string
		for i := 0; i < sp.MaxLayers; i++ {
			var toks []string
			for _, d := range ds {
				toks = append(toks, d.Tokens[(i+len(d.Name))%len(d.Tokens)])
			}
			if i > 0 {
				toks = append(toks, AnchorPrefix+itoa(i-1))
			}
			layers = append(layers, strings.Join(toks, " "))
		}
		s := strings.Join(layers, LayerSeparator)
		a, err := sp.ParseArch(s)
		if err != nil {
			t.Fatalf("space %s: controller-style string %q: %v", sp.Name, s, err)
		}
		if len(a.Layers) != sp.MaxLayers || a.Layers[1].SH != 1 || len(a.Layers[1].Inputs) != 1 {
			t.Errorf("space %s: %q parsed as %v", sp.Name, s, a)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestChoices: the decision vector of an architecture, in Decisions' order,
// and the error for an architecture outside the space.
func TestChoices(t *testing.T) {
	for _, tt := range []struct {
		why  string
		sp   Space
		arch string
		want []int
	}{
		{"v1: strides fixed (index 0), anchors per earlier layer", SpaceV1, "kh3 kw5 f24 | kh1 kw7 f64 in0 | kh7 kw3 f36 in1",
			[]int{1, 2, 0, 0, 0 /* layer 1 */, 0, 3, 0, 0, 3, 1 /* layer 2 */, 3, 1, 0, 0, 1, 0, 1}},
		{"v2: strides searched", SpaceV2, "kh3 kw3 sh2 sw3 f48", []int{1, 1, 1, 2, 2}},
		{"v3: p last, after f", SpaceV3, "kh3 kw3 sh2 sw3 f48 p2 | kh1 kw1 f24 in0", []int{1, 1, 1, 2, 2, 1 /* layer 1 */, 0, 0, 0, 0, 0, 0, 1}},
		{"v3: no p token is p0", SpaceV3, "kh3 kw3 f48", []int{1, 1, 0, 0, 2, 0}},
		{"v1: an explicit p0 adds no entry", SpaceV1, "kh3 kw3 f48 p0", []int{1, 1, 0, 0, 2}},
		{"chain: no anchor entries", chain, "kh3 kw3 f8 | kh3 kw3 f16 in0", []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	} {
		a, err := tt.sp.ParseArch(tt.arch)
		if err != nil {
			t.Fatalf("%s: %v", tt.why, err)
		}
		got, err := tt.sp.Choices(a)
		if err != nil {
			t.Fatalf("%s: %v", tt.why, err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s: %q (-want +got):\n%s", tt.why, tt.arch, d)
		}
	}
	a, _ := Parse("kh9 kw3 f24")
	if _, err := SpaceV1.Choices(a); err == nil || !strings.Contains(err.Error(), "filter height 9 not in space v1") {
		t.Errorf("kh9 in v1: %v, want the space's error", err)
	}
}

func TestSpaceByName(t *testing.T) {
	s, err := SpaceByName("v2")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(SpaceV2, s); d != "" {
		t.Errorf("v2 (-want +got):\n%s", d)
	}
	s.Filters[0] = 1000
	if SpaceV2.Filters[0] != 24 {
		t.Errorf("SpaceByName returned SpaceV2's own slices")
	}
	if _, err := SpaceByName("v1"); err != nil {
		t.Error(err)
	}
	for _, n := range SpaceNames {
		s, err := SpaceByName(n)
		if err != nil || s.Name != n {
			t.Errorf("SpaceByName(%s) = %s, %v", n, s.Name, err)
		}
	}
	if s, _ := SpaceByName("v3"); s.Pools[1] != 2 {
		t.Errorf("v3 pools %v", s.Pools)
	} else if s.Pools[1] = 3; SpaceV3.Pools[1] != 2 {
		t.Errorf("SpaceByName returned SpaceV3's own Pools")
	}
	_, err = SpaceByName("v4")
	if want := `onnxgen: unknown search space "v4" (want v1, v2, v3, v3-wide)`; err == nil || err.Error() != want {
		t.Errorf("SpaceByName(v4) = %v, want %s", err, want)
	}
}
