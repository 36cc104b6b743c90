package serve

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

// The runs the tests build are searches of the 8x8 digits' shape with a fake
// evaluator, so no ONNX Runtime is needed: real trial tables, real models
// (untrained, compiled by onnxgen), real SQLite.
var digitsIn = onnxgen.Input{C: 1, H: 8, W: 8}

// fakeEval scores an architecture by a smooth function of its decisions
// plus noise from the trial's seed, over epochs epochs (a rising curve);
// the reward is the last accuracy cubed (the paper's p = 3). A first layer
// of 1x1 kernels diverges, 7x7 kernels with 64 filters are oversized.
type fakeEval struct {
	epochs int
	sleep  time.Duration
}

func (f fakeEval) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	if f.sleep > 0 {
		select {
		case <-time.After(f.sleep):
		case <-ctx.Done():
			return search.Outcome{}, ctx.Err()
		}
	}
	a, err := onnxgen.Parse(t.Arch)
	if err != nil {
		return search.Outcome{}, err
	}
	cost, err := a.Cost(digitsIn, 10, false)
	if err != nil {
		return search.Outcome{Status: search.Failed, Reason: err.Error()}, nil
	}
	l0 := a.Layers[0]
	if l0.KH == 1 && l0.KW == 1 {
		return search.Outcome{Status: search.Diverged, Reason: "training loss is NaN at step 3", Params: cost.Params, FLOPs: cost.FLOPs}, nil
	}
	for _, l := range a.Layers {
		if l.KH == 7 && l.KW == 7 && l.Filters == 64 {
			return search.Outcome{Status: search.Oversized, Reason: "child over the parameter cap", Params: cost.Params, FLOPs: cost.FLOPs}, nil
		}
	}
	h := fnv.New64a()
	h.Write([]byte(t.Arch))
	rng := rand.New(rand.NewPCG(t.Seed, h.Sum64()))
	top := 0.5 + 0.07*math.Log10(float64(cost.Params)) + 0.06*rng.Float64()
	for _, l := range a.Layers {
		if l.KH == 3 && l.KW == 3 {
			top += 0.02
		}
	}
	top = math.Min(top, 0.97+0.02*rng.Float64())
	acc := make([]float64, f.epochs)
	for e := range acc {
		acc[e] = top * (1 - 0.35*math.Exp(-float64(e+1)*0.9)) * (1 - 0.01*rng.Float64())
	}
	m, err := onnxgen.Compile(a, digitsIn, 10, onnxgen.Options{Seed: t.Seed, Metadata: map[string]string{"nas.arch": t.Arch}})
	if err != nil {
		return search.Outcome{}, err
	}
	model, err := proto.Marshal(m)
	if err != nil {
		return search.Outcome{}, err
	}
	last := acc[len(acc)-1]
	return search.Outcome{Status: search.Done, Reward: last * last * last, ValAcc: acc, Params: cost.Params, FLOPs: cost.FLOPs,
		Seconds: 0.5 + float64(cost.FLOPs)/2e5, Model: model}, nil
}

// searchOptions: a small search of space v1 on the digits' shape.
func searchOptions(strategy string, trials int, seed uint64) search.Options {
	return search.Options{Strategy: strategy, Space: "v1", M: 4, Trials: trials, Schedule: search.Schedule{StartLayers: 2, LayerStep: 1, LayerEvery: 16},
		Seed: seed, MaxFailures: -1, Population: 8, Tournament: 3,
		Child: search.ChildOptions{Dataset: "digits", Epochs: 3, TrainSize: 600, ValSize: 300}}
}

// buildRun runs a search into dir (a new run, or resumed with a larger
// budget).
func buildRun(t testing.TB, dir string, o search.Options, resume bool, ev search.Evaluator) search.Summary {
	t.Helper()
	sum, err := search.Run(context.Background(), search.Config{Dir: dir, Options: o, Resume: resume, Evaluator: ev})
	if err != nil {
		t.Fatalf("search %s: %v", dir, err)
	}
	return sum
}

// writeRetrained writes DIR/retrained.onnx for arch with a test accuracy,
// as nas retrain does.
func writeRetrained(t testing.TB, dir, arch string, testAcc float64) {
	t.Helper()
	a, err := onnxgen.Parse(arch)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxgen.Compile(a, digitsIn, 10, onnxgen.Options{Metadata: map[string]string{
		"nas.arch": arch, "nas.test_accuracy": fmt.Sprintf("%.4f", testAcc)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, retrainedModel), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// insertTrial writes a trial row into a run's database directly, as a
// search in another process would.
func insertTrial(t testing.TB, dir string, idx int, status string, reward float64, acc []float64, arch string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, search.DBFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, _ := json.Marshal(acc)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	_, err = db.Exec(`INSERT OR REPLACE INTO trial (idx, iteration, arch, layers, strategy, status, reward, val_acc, params, flops,
		seconds, error, dup_of, seed, started, finished) VALUES (?, ?, ?, 2, 'rl', ?, ?, ?, 1234, 5678, 1.5, NULL, NULL, 1, ?, ?)`,
		idx, idx/4, arch, status, reward, string(b), now, now)
	if err != nil {
		t.Fatal(fmt.Errorf("insert trial %d: %w", idx, err))
	}
}

// cellEval scores a cell (kind rnn) like a language-model evaluator: per
// epoch 1/perplexity, a perplexity falling from 40 towards one set by the
// trial's seed; the reward is 1/ppl².
type cellEval struct{ epochs int }

func (f cellEval) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	rng := rand.New(rand.NewPCG(t.Seed, 7))
	floor := 8 + 10*rng.Float64()
	acc := make([]float64, f.epochs)
	for e := range acc {
		acc[e] = 1 / (floor + 32*math.Exp(-float64(e+1)))
	}
	last := acc[len(acc)-1]
	return search.Outcome{Status: search.Done, Reward: last * last, ValAcc: acc, Params: 1000, FLOPs: 5000, Seconds: 1}, nil
}
