package onnxgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"golang.org/x/tools/txtar"
	"google.golang.org/protobuf/proto"
)

// The LM goldens, testdata/lm/*.txtar: the first comment line is
// "vocab V hidden H steps T batch N layers L", the rest says why the case
// exists; section "cell" holds the cell's string (ParseCell); sections
// "train", "eval" and "infer" hold the graphs' text (Scan bodies after
// their graph), "train.unrolled" the training graph in the unrolled form. go test ./onnxgen -run Golden -update (make golden)
// rewrites them.
var lmGoldenSections = []string{"train", "eval", "infer", "train.unrolled"}

func lmGoldenModels(t *testing.T, ar *txtar.Archive) map[string]*onnxpb.ModelProto {
	t.Helper()
	first, _, _ := strings.Cut(string(ar.Comment), "\n")
	var o LMOptions
	if _, err := fmt.Sscanf(first, "vocab %d hidden %d steps %d batch %d layers %d", &o.Vocab, &o.Hidden, &o.Steps, &o.Batch, &o.Layers); err != nil {
		t.Fatalf("first comment line %q: %v", first, err)
	}
	o.Seed = 1
	str, _ := section(ar, "cell")
	c, err := ParseCell(strings.TrimSpace(str))
	if err != nil {
		t.Fatal(err)
	}
	n, err := CompileLM(c, o)
	if err != nil {
		t.Fatal(err)
	}
	vocab := make([]string, o.Vocab)
	for i := range vocab {
		vocab[i] = fmt.Sprint(i)
	}
	inf, err := LMInference(c, o, n.Params, vocab)
	if err != nil {
		t.Fatal(err)
	}
	o.Form = LMUnrolled
	un, err := CompileLM(c, o)
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]*onnxpb.ModelProto{}
	for k, b := range map[string][]byte{"train": n.Train.Model, "eval": n.Eval.Model, "infer": inf, "train.unrolled": un.Train.Model} {
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		models[k] = &m
	}
	return models
}

// lmText is graph.Text of m followed by the text of every Scan body, each
// after a line "# body of <node>".
func lmText(m *onnxpb.ModelProto) string {
	var s strings.Builder
	s.WriteString(graph.Text(m))
	for _, n := range m.GetGraph().GetNode() {
		for _, a := range n.GetAttribute() {
			if a.GetType() == onnxpb.AttributeProto_GRAPH {
				fmt.Fprintf(&s, "# %s of %s\n", a.GetName(), n.GetName())
				s.WriteString(graph.Text(&onnxpb.ModelProto{Graph: a.GetG()}))
			}
		}
	}
	return s.String()
}

func TestLMGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lm", "*.txtar"))
	if err != nil || len(files) < 2 {
		t.Fatalf("LM golden files: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			models := lmGoldenModels(t, ar)
			if *update {
				cell, _ := section(ar, "cell")
				out := &txtar.Archive{Comment: ar.Comment, Files: []txtar.File{{Name: "cell", Data: []byte(cell)}}}
				for _, s := range lmGoldenSections {
					out.Files = append(out.Files, txtar.File{Name: s, Data: []byte(lmText(models[s]))})
				}
				if err := os.WriteFile(file, txtar.Format(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, s := range lmGoldenSections {
				want, ok := section(ar, s)
				got := lmText(models[s])
				if !ok {
					t.Errorf("section %q missing (run go test ./onnxgen -run Golden -update)", s)
				} else if got != want {
					t.Errorf("section %q differs (-want +have):\n%s", s, cmp.Diff(want, got))
				}
				checkModel(t, s, models[s])
			}
		})
	}
}
