package gradcheck

import (
	"math/rand/v2"
	"testing"

	"github.com/nas-project/nas/onnxgen"
	"google.golang.org/protobuf/proto"
)

// BenchmarkTrainStep times one training step of DESIGN.md's reference net
// (3 layers of 3x3 with 36 filters, batch 64, 32x32x3, 10 classes; PyTorch
// 1.13 does ~780 images/s on 2 cores) in ORT with 2 threads.
func BenchmarkTrainStep(b *testing.B) {
	arch := onnxgen.Arch{Layers: []onnxgen.Layer{
		{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 36},
		{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 36, Inputs: []int{0}},
		{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 36, Inputs: []int{1}},
	}}
	const n, c, h, w, classes = 64, 3, 32, 32, 10
	m, names, shapes := compile(b, arch, c, h, w, classes, true, 0.9, 1e-4, true, false)
	model, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	params := initParams(rng, names, shapes)
	img, lab := randomBatch(rng, n, c, h, w, classes)
	ins, outs := []string{"image", "label", "lr"}, []string{"loss", "correct"}
	feeds := []feed{
		{name: "image", shape: []int64{n, c, h, w}, f32: img},
		{name: "label", shape: []int64{n}, i64: lab},
		{name: "lr", shape: []int64{1}, f32: []float32{0.01}},
	}
	for i, p := range names {
		ins, outs = append(ins, p), append(outs, p+".next")
		feeds = append(feeds, feed{name: p, shape: shapes[i], f32: params[i]})
	}
	for i, p := range names {
		ins, outs = append(ins, p+".mom"), append(outs, p+".mom.next")
		feeds = append(feeds, feed{name: p + ".mom", shape: shapes[i], f32: make([]float32, len(params[i]))})
	}
	s := newSession(b, model, ins, outs)
	s.run(b, feeds)
	b.ResetTimer()
	for range b.N {
		s.run(b, feeds)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}
