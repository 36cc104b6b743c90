package gradcheck

import (
	"context"
	"math"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/internal/testenv"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
)

// streams is an LM data source over a token sequence cut into n streams
// (as PTB's batchify does): example i is window i/n of stream i%n, its
// tokens and, one position ahead, its targets; the runner's Sequential
// order visits window 0 of every stream, then window 1, ….
type streams struct {
	data     [][]int64 // per stream
	n, steps int
	windows  int
}

func newStreams(seq []int64, n, steps int) *streams {
	per := len(seq) / n
	s := &streams{n: n, steps: steps, windows: (per - 1) / steps}
	for k := range n {
		s.data = append(s.data, seq[k*per:(k+1)*per])
	}
	return s
}

func (s *streams) Len() int { return s.windows * s.n }

func (s *streams) Fill(idx []int, dst []child.Column) {
	for r, i := range idx {
		w, st := i/s.n, s.data[i%s.n]
		copy(dst[0].I64[r*s.steps:(r+1)*s.steps], st[w*s.steps:])
		copy(dst[1].I64[r*s.steps:(r+1)*s.steps], st[w*s.steps+1:])
	}
}

// periodic is n tokens of a period-8 pattern over 6 types in which a token's
// successor depends on the one before it (0 is followed by 1 or by 3), so
// that only a model with memory predicts it all; offset shifts the phase.
func periodic(n, offset int) []int64 {
	pat := []int64{0, 1, 2, 0, 3, 4, 5, 3}
	s := make([]int64, n)
	for i := range s {
		s[i] = pat[(i+offset)%len(pat)]
	}
	return s
}

// TestLMTrainsThroughRunner trains the LSTM LM with runner.Train on a
// periodic sequence and checks that the validation loss falls well below
// ln(Vocab) (a model that learned nothing) and below the bigram entropy.
// The runner loads ORT's environment itself, which the other tests of this
// package already hold: it runs in a child process of the test binary.
func TestLMTrainsThroughRunner(t *testing.T) {
	if os.Getenv("NAS_LM_RUNNER_CHILD") == "1" {
		lmRunnerChild(t)
		return
	}
	lib := testenv.ORTLibrary(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLMTrainsThroughRunner$", "-test.v")
	cmd.Env = append(os.Environ(), "NAS_LM_RUNNER_CHILD=1", "NAS_ORT_LIB="+lib)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func lmRunnerChild(t *testing.T) {
	rt, err := runner.New(runner.Config{LibraryPath: testenv.ORTLibrary(t), Threads: min(2, runtime.NumCPU())})
	if err != nil {
		t.Fatal(err)
	}
	o := onnxgen.LMOptions{Vocab: 6, Hidden: 16, Steps: 8, Batch: 4, EvalBatch: 2, Seed: 1}
	n, err := onnxgen.CompileLM(lstmCell(), o)
	if err != nil {
		t.Fatal(err)
	}
	train := newStreams(periodic(4*257, 0), o.Batch, o.Steps)
	val := newStreams(periodic(2*65, 3), o.EvalBatch, o.Steps)
	res, err := rt.Train(context.Background(), n, train, val, runner.TrainOptions{Epochs: 8, Batch: o.Batch, EvalBatch: o.EvalBatch, LR: 1, Seed: 1})
	if err != nil || res.Status != runner.Done {
		t.Fatalf("Train: %v %v %s", err, res.Status, res.Reason)
	}
	var losses []float64
	for _, p := range res.Val {
		losses = append(losses, p.Metrics[onnxgen.MetricLoss])
	}
	t.Logf("validation loss per epoch %.3f (ln V = %.3f), %.0f tokens/s", losses, math.Log(6), res.ExamplesPerSec*float64(o.Steps))
	// A bigram model's loss on this pattern: 0 and 3 have two successors
	// each (4 of 8 positions), the rest one: (4/8)·ln 2 ≈ 0.35.
	if last := losses[len(losses)-1]; last > 0.2 {
		t.Errorf("validation loss %.3f after %d epochs, want below 0.2 (ln V = %.3f, bigram ≈ 0.35)", last, len(losses), math.Log(6))
	}
}
