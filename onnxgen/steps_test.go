package onnxgen

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestStepsForm: the K-step graph's Loop body is the training step's nodes
// and constants, in order, renamed with the body's prefix and nothing else
// changed, after one Gather per per-step input; its signature is the
// contract's (Validate); and the ONNX checker (full_check) accepts it.
func TestStepsForm(t *testing.T) {
	if out, err := exec.Command(checkerPython, "-c", "import onnx").CombinedOutput(); err != nil {
		t.Fatalf("%s with the onnx module is needed (run `make test-deps`): %v\n%s", checkerPython, err, out)
	}
	dir := t.TempDir()
	var files []string
	for i, arch := range []string{trainTestArch, "kh3 kw3 f4 p2 | kh5 kw5 f6 in0"} {
		a, err := Parse(arch)
		if err != nil {
			t.Fatal(err)
		}
		opts := TrainOptions{Options: Options{BatchNorm: true, Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4, Nesterov: i == 1}
		n, err := CompileNet(a, Input{C: 3, H: 8, W: 8}, 5, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(n.Steps.Model) == 0 {
			t.Fatal("CompileNet made no K-step graph")
		}
		var step, steps onnxpb.ModelProto
		if err := proto.Unmarshal(n.Train.Model, &step); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(n.Steps.Model, &steps); err != nil {
			t.Fatal(err)
		}
		var loop *onnxpb.NodeProto
		for _, nd := range steps.GetGraph().GetNode() {
			if nd.GetOpType() == "Loop" {
				loop = nd
			}
		}
		if loop == nil {
			t.Fatal("no Loop node")
		}
		body := loop.GetAttribute()[0].GetG()
		gathers := len(n.Batch) + 1
		if got, want := len(body.GetNode()), gathers+len(step.GetGraph().GetNode())+1; got != want {
			t.Fatalf("body has %d nodes, want %d", got, want)
		}
		for k, nd := range step.GetGraph().GetNode() {
			c := proto.Clone(nd).(*onnxpb.NodeProto)
			c.Name = proto.String(stepPrefix + c.GetName())
			for j := range c.Input {
				if c.Input[j] != "" {
					c.Input[j] = stepPrefix + c.Input[j]
				}
			}
			for j := range c.Output {
				c.Output[j] = stepPrefix + c.Output[j]
			}
			if got := body.GetNode()[gathers+k]; !proto.Equal(got, c) {
				t.Fatalf("body node %d is %v, want the step's %v renamed", gathers+k, got, nd)
			}
		}
		if got, want := len(body.GetInitializer()), len(step.GetGraph().GetInitializer()); got != want {
			t.Errorf("body has %d constants, the step %d", got, want)
		}
		if len(loop.GetInput()) != 2+len(n.State) || len(loop.GetOutput()) != len(n.State)+len(n.Metrics) {
			t.Errorf("Loop inputs %v outputs %v for %d states", loop.GetInput(), loop.GetOutput(), len(n.State))
		}
		img, _ := n.Steps.Input(InputImage)
		if want := []int64{child.StepDim, child.BatchDim, 3, 8, 8}; !slices.Equal(img.Shape, want) {
			t.Errorf("image of the K-step graph %v, want %v", img.Shape, want)
		}
		p := filepath.Join(dir, "steps"+string(rune('0'+i))+".onnx")
		if err := os.WriteFile(p, n.Steps.Model, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		broken := n
		broken.Steps.Inputs = append([]child.Tensor(nil), n.Steps.Inputs...)
		broken.Steps.Inputs[0].Shape = n.Train.Inputs[0].Shape
		if err := broken.Validate(); err == nil || !strings.Contains(err.Error(), "K-step") {
			t.Errorf("a K-step image without the steps dimension: Validate says %v", err)
		}
	}
	out, err := exec.Command(checkerPython, append([]string{"-c", checkerScript}, files...)...).CombinedOutput()
	if err != nil {
		t.Errorf("onnx checker: %v\n%s", err, out)
	}
}
