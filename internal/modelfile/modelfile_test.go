package modelfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen"
)

func TestRead(t *testing.T) {
	a, err := onnxgen.Parse("kh3 kw3 f24 | kh5 kw5 f36 in0")
	if err != nil {
		t.Fatal(err)
	}
	in := onnxgen.Input{C: 1, H: 8, W: 8}
	model := func(meta map[string]string) []byte {
		m, err := onnxgen.Compile(a, in, 10, onnxgen.Options{Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	train, err := onnxgen.CompileTrain(a, in, 10, onnxgen.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trainBytes, _ := proto.Marshal(train)
	for _, c := range []struct {
		name string
		b    []byte
		want Info
		err  string
	}{
		{"metadata", model(map[string]string{"nas.arch": "x", "nas.test_accuracy": "0.9"}),
			Info{Input: in, Classes: 10, Metadata: map[string]string{"nas.arch": "x", "nas.test_accuracy": "0.9"}}, ""},
		{"no metadata: an empty map", model(nil), Info{Input: in, Classes: 10, Metadata: map[string]string{}}, ""},
		{"not protobuf", []byte("model of kh3"), Info{}, "modelfile: not an ONNX model"},
		{"a training graph has many inputs", trainBytes, Info{}, "want one input and one output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Read(c.b)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}
