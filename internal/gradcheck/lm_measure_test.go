package gradcheck

import (
	"os"
	"testing"
	"time"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestLMMeasure prints, for the NASCell and the LSTM at Steps 35, Hidden 128
// (base 8), Batch 32, one layer, character level (Vocab 50; with
// NAS_LM_MEASURE_ALL=1 also word level, Vocab 10000, and two layers), in
// each form (unrolled, Scan): the training graph's node count and
// serialized size, the evaluation graph's node count, ORT's session
// creation time (2 intra-op threads) and the time of a training step, the
// two forms' steps alternated so that both see the same load. These are the
// numbers behind LMFormAuto (lm.go). It fails when a session takes longer
// than 10 s to create. Run it with -v; skipped with -short.
func TestLMMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds sessions of graphs of thousands of nodes")
	}
	type conf struct {
		name   string
		cell   onnxgen.Cell
		vocab  int
		layers int
	}
	confs := []conf{{"nascell", nasCell(), 50, 1}, {"lstm", lstmCell(), 50, 1}}
	if os.Getenv("NAS_LM_MEASURE_ALL") != "" {
		confs = append(confs, conf{"nascell", nasCell(), 10000, 1}, conf{"nascell", nasCell(), 50, 2})
	}
	forms := []onnxgen.LMForm{onnxgen.LMUnrolled, onnxgen.LMScan}
	formName := map[onnxgen.LMForm]string{onnxgen.LMUnrolled: "unrolled", onnxgen.LMScan: "scan"}
	for _, c := range confs {
		var sessions []*session
		var feeds [][]feed
		for _, f := range forms {
			o := onnxgen.LMOptions{Vocab: c.vocab, Hidden: 128, Layers: c.layers, Steps: 35, Batch: 32, Seed: 1, Form: f}
			n, err := onnxgen.CompileLM(c.cell, o)
			if err != nil {
				t.Fatal(err)
			}
			var tr, ev onnxpb.ModelProto
			if err := proto.Unmarshal(n.Train.Model, &tr); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(n.Eval.Model, &ev); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			s := newSession(t, n.Train.Model, inputNames(n.Train), outputNames(n.Train))
			create := time.Since(t0)
			fd, _, _, _ := lmFeeds(t, n, o, o.Batch, 0.5, n.Params, 1, true)
			s.run(t, fd) // the first run grows ORT's arena
			sessions, feeds = append(sessions, s), append(feeds, fd)
			t.Logf("%-8s V %5d L %d %-8s: training graph %5d nodes %7d bytes, evaluation graph %4d nodes, session creation %v",
				c.name, c.vocab, c.layers, formName[f], len(tr.GetGraph().GetNode()), len(n.Train.Model), len(ev.GetGraph().GetNode()),
				create.Round(time.Millisecond))
			if create > 10*time.Second {
				t.Errorf("%s %s: session creation %v", c.name, formName[f], create)
			}
		}
		const rounds = 6
		spent := make([]time.Duration, len(forms))
		for range rounds {
			for i, s := range sessions {
				t0 := time.Now()
				s.run(t, feeds[i])
				spent[i] += time.Since(t0)
			}
		}
		for i, f := range forms {
			step := spent[i] / rounds
			t.Logf("%-8s V %5d L %d %-8s: step %v (%.0f tokens/s)", c.name, c.vocab, c.layers, formName[f],
				step.Round(100*time.Microsecond), float64(32*35)/step.Seconds())
		}
	}
}
