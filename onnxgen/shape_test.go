package onnxgen

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, s string) Arch {
	t.Helper()
	a, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestShapes(t *testing.T) {
	tests := []struct {
		name   string
		arch   string
		in     Input
		want   []LayerShape
		head   []int
		headIn Input
		why    string
	}{
		{
			name: "stride 2", arch: "kh3 kw3 f4 | kh1 kw1 sh2 sw2 f8 in0", in: Input{3, 8, 8},
			want: []LayerShape{{Input{3, 8, 8}, Input{4, 8, 8}, Input{4, 8, 8}}, {Input{4, 8, 8}, Input{8, 4, 4}, Input{8, 4, 4}}},
			head: []int{1}, headIn: Input{8, 4, 4},
			why: "'same' padding keeps the size at stride 1 and halves it at stride 2",
		},
		{
			name: "stride 3, skips of different sizes", arch: "kh3 kw3 sh3 sw3 f2 | kh1 kw3 f3 | kh3 kw1 sh2 sw2 f5 in0 in1", in: Input{1, 7, 5},
			want: []LayerShape{
				{Input{1, 7, 5}, Input{2, 3, 2}, Input{2, 3, 2}},
				{Input{1, 7, 5}, Input{3, 7, 5}, Input{3, 7, 5}},
				{Input{5, 7, 5}, Input{5, 4, 3}, Input{5, 4, 3}},
			},
			head: []int{2}, headIn: Input{5, 4, 3},
			why: "out = ceil(in/stride) (7/3 -> 3, 5/3 -> 2); a 3x2 and a 7x5 input concatenate to 7x5 with channels summed",
		},
		{
			name: "several head inputs", arch: "kh3 kw3 sh2 sw2 f4 | kh3 kw3 f6", in: Input{3, 9, 9},
			want: []LayerShape{{Input{3, 9, 9}, Input{4, 5, 5}, Input{4, 5, 5}}, {Input{3, 9, 9}, Input{6, 9, 9}, Input{6, 9, 9}}},
			head: []int{0, 1}, headIn: Input{10, 9, 9},
			why: "both layers are unused, so both feed the head, padded to the largest",
		},
		{
			name: "stride equal to the map", arch: "kh5 kw5 sh3 sw2 f4 | kh1 kw1 sh2 sw3 f4 in0", in: Input{1, 5, 5},
			want: []LayerShape{{Input{1, 5, 5}, Input{4, 2, 3}, Input{4, 2, 3}}, {Input{4, 2, 3}, Input{4, 1, 1}, Input{4, 1, 1}}},
			head: []int{1}, headIn: Input{4, 1, 1},
			why: "a stride as large as the map is allowed and gives 1; strides differ per direction",
		},
		{
			name: "skip over a strided chain", arch: "kh3 kw3 f2 | kh3 kw3 sh2 sw2 f3 in0 | kh1 kw1 f4 in0 in1 | kh1 kw1 f5 in1", in: Input{3, 6, 6},
			want: []LayerShape{
				{Input{3, 6, 6}, Input{2, 6, 6}, Input{2, 6, 6}},
				{Input{2, 6, 6}, Input{3, 3, 3}, Input{3, 3, 3}},
				{Input{5, 6, 6}, Input{4, 6, 6}, Input{4, 6, 6}},
				{Input{3, 3, 3}, Input{5, 3, 3}, Input{5, 3, 3}},
			},
			head: []int{2, 3}, headIn: Input{9, 6, 6},
			why: "a 3x3 map joins a 6x6 map (padded) in layer 2 and in the head",
		},
		{
			name: "pooling, odd sizes", arch: "kh3 kw3 f4 p2 | kh3 kw3 f2 p2 in0 | kh1 kw1 f3 in0 in1", in: Input{1, 7, 5},
			want: []LayerShape{
				{Input{1, 7, 5}, Input{4, 7, 5}, Input{4, 3, 2}},
				{Input{4, 3, 2}, Input{2, 3, 2}, Input{2, 1, 1}},
				{Input{6, 3, 2}, Input{3, 3, 2}, Input{3, 3, 2}},
			},
			head: []int{2}, headIn: Input{3, 3, 2},
			why: "floor mode, as PyTorch's MaxPool2d: 7x5 pools to 3x2, 3x2 to 1x1 (the last row and column fill no window); the 1x1 map is padded into layer 2",
		},
		{
			name: "pool after a stride", arch: "kh3 kw3 sh2 sw2 f4 p3", in: Input{3, 12, 13},
			want: []LayerShape{{Input{3, 12, 13}, Input{4, 6, 7}, Input{4, 2, 2}}},
			head: []int{0}, headIn: Input{4, 2, 2},
			why: "the pool runs on the strided convolution's output; 3x3 pools with stride 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustParse(t, tt.arch)
			got, err := a.Shapes(tt.in)
			if err != nil {
				t.Fatalf("Shapes: %v (%s)", err, tt.why)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Shapes (-want +got):\n%s(%s)", d, tt.why)
			}
			if d := cmp.Diff(tt.head, a.HeadInputs()); d != "" {
				t.Errorf("HeadInputs (-want +got):\n%s", d)
			}
			h, err := a.HeadShape(tt.in)
			if err != nil || h != tt.headIn {
				t.Errorf("HeadShape = %v, %v; want %v", h, err, tt.headIn)
			}
		})
	}
}

func TestShapesErrors(t *testing.T) {
	tests := []struct {
		name string
		a    Arch
		in   Input
		msg  string
		why  string
	}{
		{"stride on 2x2", Arch{Layers: []Layer{
			{3, 3, 2, 2, 4, nil, 0}, {3, 3, 2, 2, 4, []int{0}, 0}, {3, 3, 1, 1, 4, []int{1}, 0}, {3, 3, 1, 1, 4, []int{2}, 0}, {3, 3, 3, 3, 4, []int{3}, 0},
		}}, Input{1, 8, 8}, "onnxgen: layer 4: stride 3x3 on a 2x2 feature map (input 8x8)", "8 -> 4 -> 2, then stride 3"},
		{"pool on 1x1", Arch{Layers: []Layer{
			{3, 3, 1, 1, 4, nil, 2}, {3, 3, 1, 1, 4, []int{0}, 2}, {3, 3, 1, 1, 4, []int{1}, 2}, {3, 3, 1, 1, 4, []int{2}, 2},
		}}, Input{1, 8, 8}, "onnxgen: layer 3: 2x2 max pool on a 1x1 feature map (input 8x8)", "8 -> 4 -> 2 -> 1, then a 2x2 pool"},
		{"pool wider than the map", Arch{Layers: []Layer{{1, 1, 1, 1, 4, nil, 2}}}, Input{1, 8, 1}, "onnxgen: layer 0: 2x2 max pool on a 8x1 feature map (input 8x1)", "one direction is enough"},
		{"stride wider than the image", Arch{Layers: []Layer{{1, 1, 1, 4, 4, nil, 0}}}, Input{1, 8, 3}, "onnxgen: layer 0: stride 1x4 on a 8x3 feature map (input 8x3)", "one direction is enough"},
		{"bad input", Arch{Layers: []Layer{{1, 1, 1, 1, 4, nil, 0}}}, Input{0, 8, 8}, "onnxgen: input 0x8x8 is not positive", "no channels"},
		{"bad arch", Arch{Layers: []Layer{{1, 1, 1, 1, 4, []int{0}, 0}}}, Input{1, 8, 8}, "onnxgen: layer 0: cannot be fed by layer 0 (not an earlier layer)", "Arch.Validate runs first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.a.Shapes(tt.in)
			if err == nil || err.Error() != tt.msg {
				t.Errorf("Shapes error\nhave %v\nwant %s\n(%s)", err, tt.msg, tt.why)
			}
			if _, err2 := tt.a.Cost(tt.in, 10, false); err2 == nil || err2.Error() != tt.msg {
				t.Errorf("Cost error = %v, want the Shapes error", err2)
			}
		})
	}
}

func TestCost(t *testing.T) {
	tests := []struct {
		name    string
		arch    string
		in      Input
		classes int
		bn      bool
		want    Cost
		why     string
	}{
		{
			// l0: 4·3·3·3 + 4 = 112 params, 8·8·4·3·3·3 = 6912 MACs
			// l1: 8·4·1·1 + 8 = 40, 4·4·8·4 = 512
			// head (8 channels from l1): 10·8 + 10 = 90, 80
			name: "chain with stride 2", arch: "kh3 kw3 f4 | kh1 kw1 sh2 sw2 f8 in0", in: Input{3, 8, 8}, classes: 10,
			want: Cost{Params: 242, FLOPs: 7504}, why: "hand-computed",
		},
		{
			name: "chain with batch norm", arch: "kh3 kw3 f4 | kh1 kw1 sh2 sw2 f8 in0", in: Input{3, 8, 8}, classes: 10, bn: true,
			want: Cost{Params: 242 + 2*4 + 2*8, FLOPs: 7504}, why: "batch norm adds scale and shift per filter, no MACs counted",
		},
		{
			// l0: 2·1·3·3 + 2 = 20, 3·2·2·1·3·3 = 108
			// l1: 3·1·1·3 + 3 = 12, 7·5·3·1·1·3 = 315
			// l2 (5 channels in): 5·5·3·1 + 5 = 80, 4·3·5·5·3·1 = 900
			// head (5 channels): 3·5 + 3 = 18, 15
			name: "skips, strides 3 and 2", arch: "kh3 kw3 sh3 sw3 f2 | kh1 kw3 f3 | kh3 kw1 sh2 sw2 f5 in0 in1", in: Input{1, 7, 5}, classes: 3,
			want: Cost{Params: 130, FLOPs: 1338}, why: "hand-computed, non-square kernels",
		},
		{
			// l0: 4·3·3·3 + 4 = 112, 8·8·4·3·3·3 = 6912 (the convolution at 8x8)
			// l1 (on the pooled 4x4): 8·4·1·1 + 8 = 40, 4·4·8·4 = 512
			// head: 10·8 + 10 = 90, 80
			name: "pooling", arch: "kh3 kw3 f4 p2 | kh1 kw1 f8 in0", in: Input{3, 8, 8}, classes: 10,
			want: Cost{Params: 242, FLOPs: 7504}, why: "a pool costs no parameters and no counted MACs, and shrinks what follows as stride 2 does",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustParse(t, tt.arch).Cost(tt.in, tt.classes, tt.bn)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Cost = %+v, want %+v (%s)", got, tt.want, tt.why)
			}
		})
	}
}

func TestCostErrors(t *testing.T) {
	a := mustParse(t, "kh3 kw3 f4")
	if _, err := a.Cost(Input{1, 4, 4}, 1, false); err == nil || err.Error() != "onnxgen: 1 classes (want at least 2)" {
		t.Errorf("one class: %v", err)
	}
	// 40 layers of 2^20 filters fed by all earlier layers: the weights
	// overflow int64.
	var big Arch
	for i := 0; i < 40; i++ {
		l := Layer{KH: 1 << 20, KW: 1 << 20, SH: 1, SW: 1, Filters: 1 << 20}
		for j := 0; j < i; j++ {
			l.Inputs = append(l.Inputs, j)
		}
		big.Layers = append(big.Layers, l)
	}
	if _, err := big.Cost(Input{1, 1, 1}, 10, false); err == nil || err.Error() != "onnxgen: cost of 40 layers overflows int64" {
		t.Errorf("overflow: %v", err)
	}
}

// TestCostV1 checks the order of magnitude on the paper's space: 15 layers
// of 3x3x64 without skips on CIFAR-sized input.
func TestCostV1(t *testing.T) {
	var a Arch
	for i := 0; i < 15; i++ {
		l := Layer{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 64}
		if i > 0 {
			l.Inputs = []int{i - 1}
		}
		a.Layers = append(a.Layers, l)
	}
	if err := SpaceV1.Check(a); err != nil {
		t.Fatal(err)
	}
	c, err := a.Cost(Input{3, 32, 32}, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	// 64·3·9+64 + 14·(64·64·9+64) + 10·64+10
	wantP := int64(64*3*9 + 64 + 14*(64*64*9+64) + 650)
	// 32·32·(64·3·9 + 14·64·64·9) + 640
	wantF := int64(32*32*(64*3*9+14*64*64*9) + 640)
	if c.Params != wantP || c.FLOPs != wantF {
		t.Errorf("Cost = %+v, want Params %d FLOPs %d", c, wantP, wantF)
	}
}
