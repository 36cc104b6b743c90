package runner_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen"
)

// tokenRows is a Source of n rows of random tokens (inputs and targets),
// what a language model's training step reads.
type tokenRows struct {
	steps, vocab int
	rng          *rand.Rand
}

func (s tokenRows) Len() int { return 1 << 20 }
func (s tokenRows) Fill(idx []int, dst []child.Column) {
	for i := range dst[0].I64 {
		dst[0].I64[i] = int64(s.rng.IntN(s.vocab))
		dst[1].I64[i] = int64(s.rng.IntN(s.vocab))
	}
}

// BenchmarkLMTrainStep times one training step of a cell language model
// (embedding, the cell over the window, softmax cross-entropy, BPTT,
// global-norm clipping, SGD) at the sizes bench/torch_lm_step.py times:
// 32 streams × 35 steps, hidden 128, a character-level vocabulary of 100
// (VOCAB=...), 2 intra-op threads; the LSTM and the NASCell of the cell
// language. It reports tokens/s.
func BenchmarkLMTrainStep(b *testing.B) {
	const streams, steps, hidden = 32, 35, 128
	vocab := 100
	if v, err := strconv.Atoi(os.Getenv("VOCAB")); err == nil && v > 1 {
		vocab = v
	}
	rt := newRuntime(b)
	for _, name := range []string{"lstm", "nascell"} {
		c, _ := onnxgen.CellByName(name)
		b.Run(name, func(b *testing.B) {
			net, err := onnxgen.CompileLM(c, onnxgen.LMOptions{Vocab: vocab, Hidden: hidden, Steps: steps, Batch: streams, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			step, fill, free, err := rt.StepForTest(net, tokenRows{steps, vocab, rand.New(rand.NewPCG(1, 2))}, streams, 0.5)
			if err != nil {
				b.Fatal(err)
			}
			defer free()
			fill()
			for range 3 { // warm ORT's arena
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*streams*steps)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
