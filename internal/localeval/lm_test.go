package localeval

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/nas-project/nas/internal/text"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

func tinyLM() search.ChildOptions {
	return search.ChildOptions{Dataset: "tiny", Epochs: 2, Batch: 4, LM: search.LMOptions{Hidden: 12, Steps: 6}}
}

// TestLMEvaluate: a trial of the rnn kind trains the cell's language model
// on the corpus, scores each epoch by 1/perplexity, rewards 80/ppl² (word
// level), and ships a model whose parameters, read back, give the same
// test perplexity through the evaluation graph as through the exported
// one-step model fed a token at a time.
func TestLMEvaluate(t *testing.T) {
	co := tinyLM()
	corpus, err := LoadText("", co)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewLM(LMConfig{Runtime: runtime(t), Corpus: corpus})
	if err != nil {
		t.Fatal(err)
	}
	lstm, _ := onnxgen.CellByName("lstm")
	out, err := ev.Evaluate(context.Background(), search.Trial{Arch: lstm.String(), Seed: 3, Child: co})
	if err != nil || out.Status != search.Done {
		t.Fatalf("Evaluate: %v %v %s", err, out.Status, out.Reason)
	}
	if len(out.ValAcc) != 2 || out.ValAcc[1] <= 1.0/float64(len(corpus.Vocab)) {
		t.Errorf("scores %v: want 2 epochs, better than uniform over %d symbols", out.ValAcc, len(corpus.Vocab))
	}
	best := slices.Max(out.ValAcc)
	if want := 80 * best * best; math.Abs(out.Reward-want) > 1e-12 {
		t.Errorf("reward %v, want 80/ppl² = %v", out.Reward, want)
	}
	if p, _ := onnxgen.LMCost(lstm, LMOptions(co, len(corpus.Vocab), 0)); out.Params != p {
		t.Errorf("params %d, LMCost says %d", out.Params, p)
	}
	ppl, n, err := LMTestPerplexity(context.Background(), runtime(t), out.Model, lstm, co, corpus)
	if err != nil {
		t.Fatal(err)
	}
	ref, m := stepPerplexity(t, out.Model, corpus.Test, co.Batch, co.LM.Steps, 12)
	if m != n || math.Abs(ppl-ref) > 1e-3*ref {
		t.Errorf("test perplexity %v over %d tokens; the exported model, a token at a time: %v over %d", ppl, n, ref, m)
	}
	// The same trial again: the same numbers (training is deterministic).
	again, err := ev.Evaluate(context.Background(), search.Trial{Arch: lstm.String(), Seed: 3, Child: co})
	if err != nil || again.Reward != out.Reward || !slices.Equal(again.Model, out.Model) {
		t.Errorf("a second run: reward %v (first %v), same model %v, %v", again.Reward, out.Reward, slices.Equal(again.Model, out.Model), err)
	}
	if o, err := ev.Evaluate(context.Background(), search.Trial{Arch: "rnn: base3", Child: co}); err != nil || o.Status != search.Failed {
		t.Errorf("a malformed cell: %v %v", o.Status, err)
	}
}

// stepPerplexity runs the exported model one token at a time over the
// windows text.NewStream makes of ids, the states carried, as a user of
// the model would, and returns the perplexity and the tokens predicted.
func stepPerplexity(t *testing.T, model []byte, ids []int32, streams, steps, hidden int) (float64, int) {
	t.Helper()
	s, err := text.NewStream(ids, streams, steps)
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime(t).Open(model, []string{"token", "h", "c"}, []string{"logits", "h.next", "c.next"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n, H := int64(streams), int64(hidden)
	h := runner.Value{Shape: []int64{1, n, H}, F32: make([]float32, n*H)}
	c := runner.Value{Shape: []int64{1, n, H}, F32: make([]float32, n*H)}
	per := s.Windows() * steps // tokens of each stream
	rows := (len(ids) - 1) / streams
	nll := 0.0
	for k := range per {
		tok := runner.Value{Shape: []int64{n}, I64: make([]int64, n)}
		for r := range streams {
			tok.I64[r] = int64(ids[r*rows+k])
		}
		out, err := m.Run([]runner.Value{tok, h, c})
		if err != nil {
			t.Fatal(err)
		}
		h, c = out[1], out[2]
		v := out[0].Shape[1]
		for r := range streams {
			row := out[0].F32[int64(r)*v : int64(r+1)*v]
			mx := float64(slices.Max(row))
			sum := 0.0
			for _, x := range row {
				sum += math.Exp(float64(x) - mx)
			}
			nll += mx + math.Log(sum) - float64(row[ids[r*rows+k+1]])
		}
	}
	return math.Exp(nll / float64(per*streams)), per * streams
}
