package onnxgen

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// paperC is the architecture "C": 15 layers of stride 1, 3x3 when
// the index is even and 5x5 when odd, 48 filters when i%3 == 2 else 36, each
// fed by the previous layer except 3<-{2,0}, 6<-{5,3}, 9<-{8,6,4},
// 12<-{11,9}, 14<-{13,12,7}.
func paperC() Arch {
	skips := map[int][]int{3: {0, 2}, 6: {3, 5}, 9: {4, 6, 8}, 12: {9, 11}, 14: {7, 12, 13}}
	var a Arch
	for i := range 15 {
		l := Layer{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 36}
		if i%2 == 1 {
			l.KH, l.KW = 5, 5
		}
		if i%3 == 2 {
			l.Filters = 48
		}
		if s, ok := skips[i]; ok {
			l.Inputs = s
		} else if i > 0 {
			l.Inputs = []int{i - 1}
		}
		a.Layers = append(a.Layers, l)
	}
	return a
}

var cifar = Input{C: 3, H: 32, W: 32}

// BenchmarkCompile15 compiles the paper's 15-layer network, He
// initialisation included.
func BenchmarkCompile15(b *testing.B) {
	a := paperC()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(a, cifar, 10, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile15Graph compiles it with given parameters: the graph alone.
func BenchmarkCompile15Graph(b *testing.B) {
	a := paperC()
	ps, err := InitParams(a, cifar, 10, Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(a, cifar, 10, Options{Params: ps}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInitParams15 is the He initialisation alone.
func BenchmarkInitParams15(b *testing.B) {
	a := paperC()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InitParams(a, cifar, 10, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshal15 serialises the compiled model (what the runner gets).
func BenchmarkMarshal15(b *testing.B) {
	m, err := Compile(paperC(), cifar, 10, Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
