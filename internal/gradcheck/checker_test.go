package gradcheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nas-project/nas/onnxgen"
	"google.golang.org/protobuf/proto"
)

// TestTrainGraphsPassONNXChecker runs ONNX's own checker with full_check
// (shape inference included; Debian's python3-onnx 1.12 validates IR 8 /
// opset 17) on the training-step and evaluation graphs of every architecture
// the other checks use, with and without batch norm and Nesterov, the
// training graphs in every weight-gradient formulation.
func TestTrainGraphsPassONNXChecker(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		t.Fatalf("gradcheck: %s cannot import onnx (%v): run make test-deps", py, err)
	}
	dir := t.TempDir()
	var files []string
	for i, a := range []onnxgen.Arch{
		{Layers: []onnxgen.Layer{
			{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 3},
			{KH: 7, KW: 7, SH: 1, SW: 1, Filters: 3, Inputs: []int{0}},
			{KH: 1, KW: 7, SH: 1, SW: 1, Filters: 2, Inputs: []int{1}},
			{KH: 7, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}},
		}},
		{Layers: []onnxgen.Layer{
			{KH: 3, KW: 3, SH: 2, SW: 2, Filters: 3},
			{KH: 3, KW: 3, SH: 3, SW: 3, Filters: 2, Inputs: []int{0}},
			{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 2},
			{KH: 5, KW: 3, SH: 1, SW: 2, Filters: 2, Inputs: []int{0, 1, 2}},
			{KH: 1, KW: 3, SH: 3, SW: 1, Filters: 2, Inputs: []int{1, 2}},
		}},
		{Layers: []onnxgen.Layer{ // max pools on odd sizes (10x11 to 5x5 to 2x2), a pooled skip
			{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 3, Pool: 2},
			{KH: 3, KW: 3, SH: 1, SW: 1, Filters: 2, Inputs: []int{0}, Pool: 2},
			{KH: 1, KW: 1, SH: 1, SW: 1, Filters: 2, Inputs: []int{0, 1}, Pool: 3},
		}},
	} {
		for _, bn := range []bool{false, true} {
			for _, form := range allForms() {
				for _, train := range []bool{false, true} {
					if !train && form != onnxgen.WeightGradAuto {
						continue // the evaluation graph has no gradient
					}
					m, _, _ := compile(t, a, 3, 10, 11, 4, train, 0.9, 1e-4, true, bn, form)
					b, err := proto.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					f := filepath.Join(dir, fmt.Sprintf("a%d_bn%v_train%v_%v.onnx", i, bn, train, form))
					if err := os.WriteFile(f, b, 0o644); err != nil {
						t.Fatal(err)
					}
					files = append(files, f)
				}
			}
		}
	}
	script := `import sys, onnx
bad = 0
for f in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(f), full_check=True)
    except Exception as e:
        bad += 1
        print(f, e)
sys.exit(1 if bad else 0)
`
	out, err := exec.Command(py, append([]string{"-c", script}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ONNX checker: %v\n%s", err, out)
	}
}
