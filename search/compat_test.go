package search

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The config a run of the version before snake_case controller keys stored
// (copied from such a run's nas.db): the controller under Go field names,
// its zeros meaning the defaults, no kind.
const legacyConfig = `{"strategy":"rl","space":"v1","m":8,"parallel":2,"trials":24,"duration":0,"max_failures":20,"start_layers":6,"layer_step":2,"layer_every":8,"penalty":0,"seed":1,"controller":{"Hidden":0,"LSTMLayers":0,"Embedding":0,"InitRange":0,"LR":0,"BaselineDecay":0,"EntropyWeight":0.001,"ClipNorm":0,"Seed":0},"population":20,"tournament":5,"child":{"dataset":"digits","epochs":2,"batch":32,"lr":0.05,"cosine_lr":false,"momentum":0.9,"nesterov":false,"weight_decay":0.0001,"batch_norm":false,"reward_k":5,"reward_p":3,"train_size":600,"val_size":300,"memory_limit":0,"max_params":0}}`

// TestDecodeLegacyOptions: an old run's config reads as the options it
// meant, defaults resolved, and encodes back in today's format with every
// default written out under snake_case keys.
func TestDecodeLegacyOptions(t *testing.T) {
	got, err := decodeOptions([]byte(legacyConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Strategy: "rl", Space: "v1", M: 8, Parallel: 2, Trials: 24, MaxFailures: 20,
		Schedule: Schedule{StartLayers: 6, LayerStep: 2, LayerEvery: 8}, Seed: 1, Population: 20, Tournament: 5,
		Child: ChildOptions{Dataset: "digits", Epochs: 2, Batch: 32, LR: 0.05, Momentum: Float(0.9), WeightDecay: 1e-4,
			RewardK: 5, RewardP: 3, TrainSize: 600, ValSize: 300}}
	want.Controller.EntropyWeight = 0.001
	want = want.WithDefaults()
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("legacy options (-want +got):\n%s", d)
	}
	if got.Kind != KindCNN || got.Controller.Hidden != 35 || got.Controller.LR != 0.0006 || got.Controller.EntropyWeight != 0.001 {
		t.Errorf("kind %q, controller %+v: want cnn and the defaults resolved, the entropy weight kept", got.Kind, got.Controller)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Kind       *string        `json:"kind"`
		Controller map[string]any `json:"controller"`
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hidden", "lstm_layers", "embedding", "init_range", "lr", "baseline_decay", "entropy_weight", "clip_norm"} {
		if _, ok := keys.Controller[k]; !ok {
			t.Errorf("encoded controller lacks %q: %s", k, b)
		}
	}
	if keys.Kind == nil || *keys.Kind != KindCNN {
		t.Errorf("encoded options lack the kind: %s", b)
	}
	again, err := decodeOptions(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, again); d != "" {
		t.Errorf("today's format does not read back the same (-first +again):\n%s", d)
	}
}

// TestStrayTempsRemoved: the temporary files that killed writes leave (this
// version's and earlier versions' names) are removed when a run directory is
// resumed; best.onnx and controller.ckpt are written with mode 0644; other
// files stay.
func TestStrayTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(StrategyRL, 8)
	runSearch(t, dir, o, newFake(), nil)
	stray := []string{".best.onnx.tmp-123", ".controller.ckpt.tmp-7", ".best.onnx.tmp4242", "controller.ckpt.tmp99"}
	for _, n := range append(stray, "notes.txt") {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16}, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	for _, n := range stray {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s survived the resume (%v)", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("a file of the user's was removed: %v", err)
	}
	for _, n := range []string{BestFile, CheckpointFile} {
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o044 != 0o044 {
			t.Errorf("%s has mode %v, want readable by all (0644)", n, st.Mode().Perm())
		}
	}
}
