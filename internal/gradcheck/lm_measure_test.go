package gradcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestLMMeasure prints, for the NASCell and the LSTM at Steps 35, Hidden 128
// (base 8), Batch 32, one and two layers, character (Vocab 50) and word
// (Vocab 10000) level, each training graph's node count and serialized size,
// ORT's session creation time (2 intra-op threads) and the time of a training
// step: the numbers behind the choice of the unrolled form (lm.go). It
// fails when a session takes longer than 5 s to create. Run it with -v;
// skipped with -short.
func TestLMMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds sessions of ~4k-node graphs")
	}
	type conf struct {
		name   string
		cell   onnxgen.Cell
		vocab  int
		layers int
	}
	confs := []conf{
		{"nascell", nasCell(), 50, 1},
		{"lstm", lstmCell(), 50, 1},
		{"nascell", nasCell(), 10000, 1},
		{"nascell", nasCell(), 50, 2},
	}
	if os.Getenv("NAS_LM_MEASURE_ALL") == "" {
		confs = confs[:2]
	}
	for _, c := range confs {
		o := onnxgen.LMOptions{Vocab: c.vocab, Hidden: 128, Layers: c.layers, Steps: 35, Batch: 32, Seed: 1}
		t0 := time.Now()
		n, err := onnxgen.CompileLM(c.cell, o)
		if err != nil {
			t.Fatal(err)
		}
		compile := time.Since(t0)
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(n.Train.Model, &m); err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		s := newSession(t, n.Train.Model, inputNames(n.Train), outputNames(n.Train))
		create := time.Since(t0)
		feeds, _, _, _ := lmFeeds(t, n, o, o.Batch, 0.5, n.Params, 1, true)
		s.run(t, feeds) // the first run allocates ORT's arena
		const runs = 5
		t0 = time.Now()
		for range runs {
			s.run(t, feeds)
		}
		step := time.Since(t0) / runs
		var ev onnxpb.ModelProto
		if err := proto.Unmarshal(n.Eval.Model, &ev); err != nil {
			t.Fatal(err)
		}
		t.Logf("%-8s V %5d L %d: training graph %5d nodes %8d bytes (evaluation %4d nodes), compile %v, session %v, step %v (%.0f tokens/s)",
			c.name, c.vocab, c.layers, len(m.GetGraph().GetNode()), len(n.Train.Model), len(ev.GetGraph().GetNode()),
			compile.Round(time.Millisecond), create.Round(time.Millisecond), step.Round(100*time.Microsecond),
			float64(o.Batch*o.Steps)/step.Seconds())
		if create > 5*time.Second {
			t.Errorf("%s: session creation %v", c.name, create)
		}
	}
	_ = fmt.Sprint
}
