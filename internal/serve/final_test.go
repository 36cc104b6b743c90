package serve

import (
	"context"
	"testing"

	"github.com/nas-project/nas/search"
)

// TestFinalModel: in a run with a final training, best.onnx is the chosen
// final candidate's model, and the view says so: the model belongs to that
// trial (not to the best trial, whose model best_model keeps).
func TestFinalModel(t *testing.T) {
	dir := t.TempDir()
	o := searchOptions(search.StrategyRandom, 12, 1)
	o.Final = search.FinalTraining{K: 3, Epochs: 3}
	// The final training: other weights than the trial's (another seed).
	final := search.EvaluatorFunc(func(ctx context.Context, tr search.Trial) (search.Outcome, error) {
		tr.Seed++
		return fakeEval{epochs: 3}.Evaluate(ctx, tr)
	})
	sum, err := search.Run(context.Background(), search.Config{Dir: dir, Options: o, Evaluator: fakeEval{epochs: 3}, FinalEvaluator: final})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Final == nil {
		t.Fatal("no final model")
	}
	_, addr := startServer(t, Config{Dirs: []string{dir}})
	var detail struct {
		Run    runJSON
		Trials []trialJSON
	}
	getJSON(t, addr, "/api/runs/0", &detail)
	if ms := detail.Run.Models; len(ms) != 1 || ms[0].Name != "best.onnx" || ms[0].Trial != sum.Final.Trial {
		t.Errorf("models %+v; want best.onnx as trial %d's (the final model)", ms, sum.Final.Trial)
	}
	for i, tj := range detail.Trials {
		if want := i == sum.Final.Trial; want != (len(tj.Models) == 1 && tj.Models[0] == "best.onnx") {
			t.Errorf("trial %d: models %v; best.onnx is trial %d's", i, tj.Models, sum.Final.Trial)
		}
	}
}
