package onnxgen

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		name, in, canon string
		want            Arch
		reason          string
	}{
		{
			name: "example", in: "kh3 kw3 f36 | kh5 kw5 f48 in0 | kh3 kw3 sh2 sw2 f64 in0 in1",
			canon:  "kh3 kw3 f36 | kh5 kw5 f48 in0 | kh3 kw3 sh2 sw2 f64 in0 in1",
			want:   Arch{Layers: []Layer{{3, 3, 1, 1, 36, nil, 0}, {5, 5, 1, 1, 48, []int{0}, 0}, {3, 3, 2, 2, 64, []int{0, 1}, 0}}},
			reason: "the example of the spec is canonical already",
		},
		{
			name: "reordered", in: "f24 kw1 kh7 | in0 sw3 f64 kw5 sh2 kh3",
			canon:  "kh7 kw1 f24 | kh3 kw5 sh2 sw3 f64 in0",
			want:   Arch{Layers: []Layer{{7, 1, 1, 1, 24, nil, 0}, {3, 5, 2, 3, 64, []int{0}, 0}}},
			reason: "decisions may come in any order; Format writes kh kw sh sw f in",
		},
		{
			name: "default strides", in: "kh3 kw3 sh1 sw1 f36 | kh3 kw3 sh1 f36 in0",
			canon:  "kh3 kw3 f36 | kh3 kw3 f36 in0",
			want:   Arch{Layers: []Layer{{3, 3, 1, 1, 36, nil, 0}, {3, 3, 1, 1, 36, []int{0}, 0}}},
			reason: "an explicit stride 1 is the default and is omitted",
		},
		{
			name: "one stride only", in: "kh1 kw7 sw2 f48",
			canon:  "kh1 kw7 sw2 f48",
			want:   Arch{Layers: []Layer{{1, 7, 1, 2, 48, nil, 0}}},
			reason: "sh and sw are independent",
		},
		{
			name: "inputs sorted", in: "kh3 kw3 f8 | kh3 kw3 f8 | kh3 kw3 f8 in1 | kh1 kw1 f8 in2 in0 in1",
			canon:  "kh3 kw3 f8 | kh3 kw3 f8 | kh3 kw3 f8 in1 | kh1 kw1 f8 in0 in1 in2",
			want:   Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, []int{1}, 0}, {1, 1, 1, 1, 8, []int{0, 1, 2}, 0}}},
			reason: "in tokens come out ascending; layer 1 without in takes the image",
		},
		{
			name: "tabs and newlines", in: "\t kh3\nkw3   f36\t| kh5 kw5 f48 in0 \n",
			canon:  "kh3 kw3 f36 | kh5 kw5 f48 in0",
			want:   Arch{Layers: []Layer{{3, 3, 1, 1, 36, nil, 0}, {5, 5, 1, 1, 48, []int{0}, 0}}},
			reason: "any whitespace separates tokens",
		},
		{
			name: "large values", in: "kh1048575 kw9 f1048576",
			canon:  "kh1048575 kw9 f1048576",
			want:   Arch{Layers: []Layer{{1048575, 9, 1, 1, 1048576, nil, 0}}},
			reason: "the language itself has no space: even kernels and large numbers up to 2^20 parse",
		},
		{
			name: "pooling", in: "p2 kh3 kw3 f24 | in0 p0 kh1 kw1 f8 | kh3 kw3 sh2 f8 p3 in1",
			canon:  "kh3 kw3 f24 p2 | kh1 kw1 f8 in0 | kh3 kw3 sh2 f8 p3 in1",
			want:   Arch{Layers: []Layer{{3, 3, 1, 1, 24, nil, 2}, {1, 1, 1, 1, 8, []int{0}, 0}, {3, 3, 2, 1, 8, []int{1}, 3}}},
			reason: "p comes after f in the canonical form; p0 (no pooling) is the default and omitted, like sh1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v (%s)", tt.in, err, tt.reason)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s(%s)", tt.in, d, tt.reason)
			}
			if f := Format(got); f != tt.canon {
				t.Errorf("Format = %q, want %q (%s)", f, tt.canon, tt.reason)
			}
			if s := got.String(); s != tt.canon {
				t.Errorf("String = %q, want %q", s, tt.canon)
			}
			again, err := Parse(tt.canon)
			if err != nil {
				t.Fatalf("Parse(Format): %v", err)
			}
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("Parse(Format(a)) != a (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		pos      int
		msg      string
		reason   string
	}{
		{"empty", "", 0, `onnxgen: token 0 (end): empty architecture (want at least one layer, e.g. "kh3 kw3 f36")`, "nothing to parse"},
		{"blank", " \t\n", 0, `onnxgen: token 0 (end): empty architecture (want at least one layer, e.g. "kh3 kw3 f36")`, "whitespace only is empty"},
		{"kind tag", "rnn: add tanh", 0, `onnxgen: token 0 "rnn:": architecture kind "rnn" is a recurrent cell, not a CNN (ParseCell reads cells; want a CNN string, which has no kind tag)`, "rnn: tags a cell, which ParseCell reads"},
		{"cell", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at0 c2", 0, `onnxgen: token 0 "rnn:": architecture kind "rnn" is a recurrent cell, not a CNN (ParseCell reads cells; want a CNN string, which has no kind tag)`, "a valid cell is still no CNN: Parse returns an Arch"},
		{"glued cell tag", "rnn:base2 | add tanh", 0, `onnxgen: token 0 "rnn:base2": architecture kind "rnn" is a recurrent cell, not a CNN (ParseCell reads cells; want a CNN string, which has no kind tag)`, "KindOf reads the tag before the colon"},
		{"unknown kind tag", "lstm:x kh3", 0, `onnxgen: token 0 "lstm:x": architecture kind "lstm" is not supported (want a CNN string, which has no kind tag)`, "kind tags other than rnn: are unknown"},
		{"glued kind tag", "cnn:kh3 kw3 f3", 0, `onnxgen: token 0 "cnn:kh3": architecture kind "cnn" is not supported (want a CNN string, which has no kind tag)`, "CNNs have no tag, not even cnn:"},
		{"unknown", "kh3 kw3 f36 pool2", 3, `onnxgen: token 3 "pool2": unknown token (want khN, kwN, shN, swN, fN, pN, inJ or "|")`, "pooling is spelled pN"},
		{"upper case", "KH3 kw3 f3", 0, `onnxgen: token 0 "KH3": unknown token (want khN, kwN, shN, swN, fN, pN, inJ or "|")`, "prefixes are lower case"},
		{"number first", "3 kw3 f3", 0, `onnxgen: token 0 "3": unknown token (want khN, kwN, shN, swN, fN, pN, inJ or "|")`, "a bare number is no decision"},
		{"pool 1", "kh3 kw3 f3 | kh3 kw3 p1 f3 in0", 6, `onnxgen: token 6 "p1": pool size 1 pools nothing (want p0 or no p token for none, or p2 and up: a 2x2 max pool with stride 2, ...)`, "a 1x1 pool is the identity: one spelling (none) keeps strings canonical"},
		{"pool missing number", "kh3 kw3 f3 p", 3, `onnxgen: token 3 "p": missing number after "p"`, "p needs its size"},
		{"pool leading zero", "kh3 kw3 f3 p02", 3, `onnxgen: token 3 "p02": malformed number "02" after "p" (want decimal digits without sign or leading zeros)`, "one spelling per number"},
		{"pool negative", "kh3 kw3 f3 p-2", 3, `onnxgen: token 3 "p-2": malformed number "-2" after "p" (want decimal digits without sign or leading zeros)`, "no signs"},
		{"pool twice", "kh3 kw3 p2 f3 p0", 4, `onnxgen: token 4 "p0": layer 0 already has a pool size (token 2 "p2")`, "each decision at most once, p0 included"},
		{"glued separator", "kh3 kw3 f3| kh3 kw3 f3", 2, `onnxgen: token 2 "f3|": malformed number "3|" after "f" (want decimal digits without sign or leading zeros)`, "| is a token of its own"},
		{"missing number", "kh kw3 f3", 0, `onnxgen: token 0 "kh": missing number after "kh"`, "a prefix needs its number"},
		{"negative", "kh3 kw-3 f3", 1, `onnxgen: token 1 "kw-3": malformed number "-3" after "kw" (want decimal digits without sign or leading zeros)`, "no signs"},
		{"plus", "kh3 kw3 f+3", 2, `onnxgen: token 2 "f+3": malformed number "+3" after "f" (want decimal digits without sign or leading zeros)`, "no signs"},
		{"leading zero", "kh03 kw3 f3", 0, `onnxgen: token 0 "kh03": malformed number "03" after "kh" (want decimal digits without sign or leading zeros)`, "one spelling per number keeps strings canonical"},
		{"trailing junk", "kh3x kw3 f3", 0, `onnxgen: token 0 "kh3x": malformed number "3x" after "kh" (want decimal digits without sign or leading zeros)`, "digits only"},
		{"too large", "kh3 kw3 f99999999999999999999", 2, `onnxgen: token 2 "f99999999999999999999": number 99999999999999999999 after "f" is too large (want at most 1048576)`, "beyond int and beyond the bound"},
		{"zero kernel", "kh0 kw3 f3", 0, `onnxgen: token 0 "kh0": filter height 0 is not positive`, "non-positive value"},
		{"zero stride", "kh3 kw3 sw0 f3", 2, `onnxgen: token 2 "sw0": stride width 0 is not positive`, "non-positive value"},
		{"zero filters", "kh3 kw3 f0", 2, `onnxgen: token 2 "f0": number of filters 0 is not positive`, "non-positive value"},
		{"duplicate", "kh3 kw3 kh5 f3", 2, `onnxgen: token 2 "kh5": layer 0 already has a filter height (token 0 "kh3")`, "each decision at most once"},
		{"duplicate same value", "kh3 kw3 f3 | kh3 kw3 f3 f3", 7, `onnxgen: token 7 "f3": layer 1 already has a number of filters (token 6 "f3")`, "even with the same value"},
		{"missing f", "kh3 kw3 | kh3 kw3 f3", 2, `onnxgen: token 2 "|": layer 0 has no number of filters (want a fN token)`, "missing decision reported at the layer's |"},
		{"missing kw at end", "kh3 kw3 f3 | kh3 f3", 6, `onnxgen: token 6 (end): layer 1 has no filter width (want a kwN token)`, "missing decision in the last layer reported at the end"},
		{"missing kh", "kw3 f3", 2, `onnxgen: token 2 (end): layer 0 has no filter height (want a khN token)`, "kh is required"},
		{"empty layer", "kh3 kw3 f3 | | kh3 kw3 f3", 4, `onnxgen: token 4 "|": layer 1 is empty (want kh, kw and f tokens)`, "| |"},
		{"leading separator", "| kh3 kw3 f3", 0, `onnxgen: token 0 "|": layer 0 is empty (want kh, kw and f tokens)`, "no layer before the first |"},
		{"trailing separator", "kh3 kw3 f3 |", 4, `onnxgen: token 4 (end): layer 1 is empty (want kh, kw and f tokens)`, "no layer after the last |"},
		{"self", "kh3 kw3 f3 | kh3 kw3 f3 in1", 7, `onnxgen: token 7 "in1": layer 1 cannot be fed by layer 1 (not an earlier layer)`, "a layer cannot feed itself"},
		{"later", "kh3 kw3 f3 | kh3 kw3 f3 in0 in5", 8, `onnxgen: token 8 "in5": layer 1 cannot be fed by layer 5 (not an earlier layer)`, "nor be fed by a later layer"},
		{"layer 0 fed", "in0 kh3 kw3 f3", 0, `onnxgen: token 0 "in0": layer 0 cannot be fed by layer 0 (not an earlier layer)`, "layer 0 always takes the image"},
		{"repeated in", "kh3 kw3 f3 | kh3 kw3 f3 | in0 in1 in0 kh1 kw1 f3", 10, `onnxgen: token 10 "in0": layer 2 is already fed by layer 0 (token 8)`, "no repeated inputs"},
		{"in leading zero", "kh3 kw3 f3 | kh3 kw3 f3 in00", 7, `onnxgen: token 7 "in00": malformed number "00" after "in" (want decimal digits without sign or leading zeros)`, "in0 has one spelling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error (%s)", tt.in, a, tt.reason)
			}
			if err.Error() != tt.msg {
				t.Errorf("Parse(%q) error\nhave %s\nwant %s\n(%s)", tt.in, err, tt.msg, tt.reason)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Pos != tt.pos {
				t.Errorf("Pos = %d, want %d", pe.Pos, tt.pos)
			}
		})
	}
}

func TestArchValidate(t *testing.T) {
	tests := []struct {
		name   string
		a      Arch
		msg    string
		reason string
	}{
		{"ok", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 0}, {1, 1, 2, 2, 8, []int{0}, 0}}}, "", "a valid chain"},
		{"empty", Arch{}, "onnxgen: architecture has no layers", "no layers"},
		{"zero stride", Arch{Layers: []Layer{{KH: 3, KW: 3, Filters: 8}}}, "onnxgen: layer 0: stride height 0 is not positive", "code must set strides; only Parse defaults them"},
		{"pool 1", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 1}}}, "onnxgen: layer 0: pool size 1 pools nothing (want 0 for none, or at least 2)", "0 is none; 1 has no meaning of its own"},
		{"negative pool", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, -2}}}, "onnxgen: layer 0: pool size -2 is not positive", "no negative pools"},
		{"huge", Arch{Layers: []Layer{{3, 3, 1, 1, 1 << 21, nil, 0}}}, "onnxgen: layer 0: number of filters 2097152 is too large (want at most 1048576)", "values beyond the language's bound"},
		{"later input", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, []int{1}, 0}}}, "onnxgen: layer 1: cannot be fed by layer 1 (not an earlier layer)", "self"},
		{"negative input", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, []int{-1}, 0}}}, "onnxgen: layer 1: cannot be fed by layer -1 (not an earlier layer)", "no such layer"},
		{"repeated", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, []int{0, 0}, 0}}}, "onnxgen: layer 2: fed twice by layer 0", "repeats"},
		{"unsorted", Arch{Layers: []Layer{{3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, nil, 0}, {3, 3, 1, 1, 8, []int{1, 0}, 0}}}, "onnxgen: layer 2: inputs [1 0] are not ascending", "Inputs must be ascending so that the Arch is canonical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.msg {
				t.Errorf("Validate()\nhave %q\nwant %q\n(%s)", got, tt.msg, tt.reason)
			}
		})
	}
}

// v1Max is a 15-layer architecture with dense skips, the longest string of
// space v1.
func v1Max() string {
	var a Arch
	for i := 0; i < 15; i++ {
		l := Layer{KH: 3, KW: 5, SH: 1, SW: 1, Filters: 48}
		for j := 0; j < i; j++ {
			l.Inputs = append(l.Inputs, j)
		}
		a.Layers = append(a.Layers, l)
	}
	return Format(a)
}

func BenchmarkParse(b *testing.B) {
	s := v1Max()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := SpaceV1.ParseArch(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	a, err := Parse(v1Max())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = Format(a)
	}
}

// TestKindOf: the kind tag dispatches; no tag is a CNN.
func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		s    string
		want Kind
		ok   bool
	}{
		{"kh3 kw3 f24", KindCNN, true},
		{"  kh3 kw3 f24 | kh1 kw1 f8 in0", KindCNN, true},
		{"rnn: base8 ...", KindRNN, true},
		{"rnn:base8", KindRNN, true},
		{"cnn: kh3", "cnn", false}, // CNN strings carry no tag
		{"gru: x", "gru", false},
	} {
		if k, ok := KindOf(c.s); k != c.want || ok != c.ok {
			t.Errorf("KindOf(%q) = %q, %v; want %q, %v", c.s, k, ok, c.want, c.ok)
		}
	}
}
