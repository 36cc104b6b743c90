package gradcheck

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestLMInferenceMatchesEval: the one-step inference model, fed a window
// token by token with its states carried, reproduces the evaluation graph's
// forward: the mean cross-entropy of its logits against the targets is the
// evaluation loss and its last states are the evaluation graph's h.next and
// c.next (to 1e-5); a single stream (N = 1) gets the same logits as its row
// of the batch; the vocabulary and the cell are in the metadata. The evaluation graphs
// are checked in both forms, unrolled and Scan.
func TestLMInferenceMatchesEval(t *testing.T) {
	for _, c := range []struct {
		name string
		cell onnxgen.Cell
		o    onnxgen.LMOptions
	}{
		{"lstm", lstmCell(), onnxgen.LMOptions{Vocab: 9, Hidden: 6, Steps: 7, Batch: 2, EvalBatch: 3, InitScale: 0.5, Seed: 1}},
		{"nascell_2layers", nasCell(), onnxgen.LMOptions{Vocab: 9, Embed: 4, Hidden: 5, Layers: 2, Steps: 6, Batch: 3, InitScale: 0.5, Seed: 2}},
		{"base4", base4Cell(), onnxgen.LMOptions{Vocab: 7, Hidden: 4, Steps: 5, Batch: 2, InitScale: 0.5, Seed: 3}},
		{"lstm_scan", lstmCell(), onnxgen.LMOptions{Vocab: 9, Hidden: 6, Steps: 7, Batch: 2, EvalBatch: 3, InitScale: 0.5, Seed: 1, Form: onnxgen.LMScan}},
		{"nascell_2layers_scan", nasCell(), onnxgen.LMOptions{Vocab: 9, Embed: 4, Hidden: 5, Layers: 2, Steps: 6, Batch: 3, InitScale: 0.5, Seed: 2, Form: onnxgen.LMScan}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := onnxgen.CompileLM(c.cell, c.o)
			if err != nil {
				t.Fatal(err)
			}
			o := c.o
			o.Layers = max(o.Layers, 1)
			o.EvalBatch = n.EvalBatch()
			vocab := make([]string, o.Vocab)
			for i := range vocab {
				vocab[i] = fmt.Sprintf("w%d", i)
			}
			model, err := onnxgen.LMInference(c.cell, c.o, n.Params, vocab)
			if err != nil {
				t.Fatal(err)
			}
			var mp onnxpb.ModelProto
			if err := proto.Unmarshal(model, &mp); err != nil {
				t.Fatal(err)
			}
			var got []string
			var cell string
			for _, kv := range mp.GetMetadataProps() {
				switch kv.GetKey() {
				case onnxgen.MetaVocab:
					if err := json.Unmarshal([]byte(kv.GetValue()), &got); err != nil {
						t.Fatal(err)
					}
				case onnxgen.MetaCell:
					cell = kv.GetValue()
				}
			}
			if cell != c.cell.String() {
				t.Errorf("metadata cell %q, want %q", cell, c.cell.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(vocab) {
				t.Errorf("metadata vocabulary %v, want %v", got, vocab)
			}

			feeds, tokens, targets, state := lmFeeds(t, n, o, o.EvalBatch, 0, n.Params, 9, false)
			ev := newSession(t, n.Eval.Model, inputNames(n.Eval), outputNames(n.Eval)).run(t, feeds)

			N, T, H, L, V := o.EvalBatch, o.Steps, o.Hidden, o.Layers, o.Vocab
			// The states of the evaluation feeds are l0.h, l0.c, l1.h, ...;
			// the inference model's h and c are [L, N, H].
			h := make([]float32, L*N*H)
			cc := make([]float32, L*N*H)
			for l := range L {
				copy(h[l*N*H:], state[(2*l)*N*H:(2*l+1)*N*H])
				copy(cc[l*N*H:], state[(2*l+1)*N*H:(2*l+2)*N*H])
			}
			h1 := append([]float32(nil), h[:H]...) // stream 0 alone, layer 0 ...
			c1 := append([]float32(nil), cc[:H]...)
			for l := 1; l < L; l++ {
				h1 = append(h1, h[l*N*H:l*N*H+H]...)
				c1 = append(c1, cc[l*N*H:l*N*H+H]...)
			}
			inf := newSession(t, model, []string{onnxgen.InputToken, onnxgen.InputH, onnxgen.InputC},
				[]string{onnxgen.OutputLogits, onnxgen.OutputH, onnxgen.OutputC})
			var loss float64
			for s := range T {
				tok := make([]int64, N)
				for r := range N {
					tok[r] = tokens[r*T+s]
				}
				r := inf.run(t, []feed{{name: onnxgen.InputToken, shape: []int64{int64(N)}, i64: tok},
					{name: onnxgen.InputH, shape: []int64{int64(L), int64(N), int64(H)}, f32: h},
					{name: onnxgen.InputC, shape: []int64{int64(L), int64(N), int64(H)}, f32: cc}})
				logits := r.f32[onnxgen.OutputLogits]
				h, cc = r.f32[onnxgen.OutputH], r.f32[onnxgen.OutputC]
				for row := range N {
					z := logits[row*V : (row+1)*V]
					mx := math.Inf(-1)
					for _, v := range z {
						mx = max(mx, float64(v))
					}
					var se float64
					for _, v := range z {
						se += math.Exp(float64(v) - mx)
					}
					loss += mx + math.Log(se) - float64(z[targets[row*T+s]])
				}
				one := inf.run(t, []feed{{name: onnxgen.InputToken, shape: []int64{1}, i64: tok[:1]},
					{name: onnxgen.InputH, shape: []int64{int64(L), 1, int64(H)}, f32: h1},
					{name: onnxgen.InputC, shape: []int64{int64(L), 1, int64(H)}, f32: c1}})
				for k, v := range one.f32[onnxgen.OutputLogits] {
					if math.Abs(float64(v-logits[k])) > 1e-5 {
						t.Fatalf("step %d: stream 0 alone has logit %d %v, in the batch %v", s, k, v, logits[k])
					}
				}
				h1, c1 = one.f32[onnxgen.OutputH], one.f32[onnxgen.OutputC]
			}
			loss /= float64(N * T)
			if want := float64(ev.f32[onnxgen.MetricLoss][0]); math.Abs(loss-want) > 1e-5*want {
				t.Errorf("inference loss %v, evaluation graph %v", loss, want)
			}
			for l := range L {
				for _, k := range []struct {
					name string
					v    []float32
				}{{"h", h}, {"c", cc}} {
					want := ev.f32[fmt.Sprintf("l%d.%s.next", l, k.name)]
					for i, w := range want {
						if v := k.v[l*N*H+i]; math.Abs(float64(v-w)) > 1e-5 {
							t.Fatalf("layer %d %s.next[%d] = %v, evaluation graph %v", l, k.name, i, v, w)
						}
					}
				}
			}
		})
	}
}
