package controller

import "testing"

// BenchmarkSample15 samples one 15-layer architecture of the v2 space
// (strides predicted) with anchors.
func BenchmarkSample15(b *testing.B) {
	c := mustNew(b, Config{Seed: 1}, v2Space(true))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Sample(15); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate8 is one REINFORCE update for m = 8 architectures of 15
// layers of the v2 space with anchors (the graph is built before timing).
func BenchmarkUpdate8(b *testing.B) {
	c := mustNew(b, Config{Seed: 1, EntropyWeight: 1e-3, ClipNorm: 1}, v2Space(true))
	eps := sampleEpisodes(b, c, []int{15, 15, 15, 15, 15, 15, 15, 15}, func(s Sample) float64 { return float64(len(s.Arch)) / 400 })
	if _, err := c.Update(eps); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Update(eps); err != nil {
			b.Fatal(err)
		}
	}
}
