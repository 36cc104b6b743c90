package gradcheck

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nas-project/nas/internal/testenv"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	ort "github.com/yalue/onnxruntime_go"
)

// spec is what the PyTorch reference (testdata/torch_step.py) and the float64
// oracle (ref_test.go) know of a network and a run.
type spec struct {
	C           int         `json:"c"`
	H           int         `json:"h"`
	W           int         `json:"w"`
	Classes     int         `json:"classes"`
	Batch       int         `json:"batch"`
	Layers      []specLayer `json:"layers"`
	Params      []specParam `json:"params"`
	LR          float64     `json:"lr"`
	Momentum    float64     `json:"momentum"`
	WeightDecay float64     `json:"weight_decay"`
	Nesterov    bool        `json:"nesterov"`
	Steps       int         `json:"steps"`
	BNEps       float64     `json:"bn_eps"`
	BNMomentum  float64     `json:"bn_momentum"`
}

type specLayer struct {
	KH      int   `json:"kh"`
	KW      int   `json:"kw"`
	SH      int   `json:"sh"`
	SW      int   `json:"sw"`
	Filters int   `json:"filters"`
	Inputs  []int `json:"inputs"`
	BN      bool  `json:"bn"`
	Pool    int   `json:"pool"`
}

type specParam struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
}

var (
	ortOnce sync.Once
	ortErr  error
)

// initORT loads the ONNX Runtime library (testenv.ORTLibrary) and fails the
// test when it is missing.
func initORT(t testing.TB) {
	t.Helper()
	lib := testenv.ORTLibrary(t)
	ortOnce.Do(func() {
		ort.SetSharedLibraryPath(lib)
		ortErr = ort.InitializeEnvironment()
	})
	if ortErr != nil {
		t.Fatalf("gradcheck: %v", ortErr)
	}
}

// feed is one named input of a session.
type feed struct {
	name  string
	shape []int64
	f32   []float32
	i64   []int64
}

// result holds a session's outputs by name.
type result struct {
	f32 map[string][]float32
	i64 map[string][]int64
}

// session is an ORT session of one model with fixed input and output names.
type session struct {
	s       *ort.DynamicAdvancedSession
	inputs  []string
	outputs []string
}

func newSession(t testing.TB, model []byte, inputs, outputs []string) *session {
	t.Helper()
	initORT(t)
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(2); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, opts)
	if err != nil {
		t.Fatalf("gradcheck: ORT session: %v", err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &session{s, inputs, outputs}
}

// run feeds the inputs (in the session's input order) and returns every output.
func (s *session) run(t testing.TB, feeds []feed) result {
	t.Helper()
	if len(feeds) != len(s.inputs) {
		t.Fatalf("gradcheck: %d feeds for %d inputs", len(feeds), len(s.inputs))
	}
	in := make([]ort.Value, len(feeds))
	for i, f := range feeds {
		if f.name != s.inputs[i] {
			t.Fatalf("gradcheck: feed %d is %q, the session wants %q", i, f.name, s.inputs[i])
		}
		var v ort.Value
		var err error
		if f.i64 != nil {
			v, err = ort.NewTensor(ort.NewShape(f.shape...), f.i64)
		} else {
			v, err = ort.NewTensor(ort.NewShape(f.shape...), f.f32)
		}
		if err != nil {
			t.Fatalf("gradcheck: input %s: %v", f.name, err)
		}
		defer v.Destroy()
		in[i] = v
	}
	out := make([]ort.Value, len(s.outputs))
	if err := s.s.Run(in, out); err != nil {
		t.Fatalf("gradcheck: ORT run: %v", err)
	}
	r := result{map[string][]float32{}, map[string][]int64{}}
	for i, v := range out {
		switch x := v.(type) {
		case *ort.Tensor[float32]:
			r.f32[s.outputs[i]] = append([]float32(nil), x.GetData()...)
		case *ort.Tensor[int64]:
			r.i64[s.outputs[i]] = append([]int64(nil), x.GetData()...)
		default:
			t.Fatalf("gradcheck: output %s has type %T", s.outputs[i], v)
		}
		v.Destroy()
	}
	return r
}

// writeRaw writes float32 or int64 values little-endian.
func writeRaw(t *testing.T, path string, data any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(f, binary.LittleEndian, data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readF64(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}

// torchResult is what testdata/torch_step.py computes.
type torchResult struct {
	Loss    []float64   `json:"loss"`
	Correct []int64     `json:"correct"`
	Params  [][]float64 // after each step, all parameters flattened in list order
}

// runTorch runs the PyTorch reference on s with the flattened initial
// parameters, the image batch and the labels.
func runTorch(t *testing.T, s *spec, params []float32, image []float32, label []int64) torchResult {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		t.Fatalf("gradcheck: %s cannot import torch and numpy (%v): run make test-deps", py, err)
	}
	dir := t.TempDir()
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, filepath.Join(dir, "params.f32"), params)
	writeRaw(t, filepath.Join(dir, "image.f32"), image)
	writeRaw(t, filepath.Join(dir, "label.i64"), label)
	cmd := exec.Command(py, filepath.Join("testdata", "torch_step.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gradcheck: torch_step.py: %v\n%s", err, out)
	}
	var r torchResult
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= s.Steps; k++ {
		r.Params = append(r.Params, readF64(t, filepath.Join(dir, fmt.Sprintf("params_%d.f64", k))))
	}
	return r
}

// compile returns the training-step (train) or evaluation graph of a and its
// parameter names and shapes, in the interface's order.
// compile compiles a's training-step (train) or evaluation graph; form is
// the weight-gradient formulation of every convolution (onnxgen.WeightGradAuto:
// the cost model's per-layer choice).
func compile(t testing.TB, a onnxgen.Arch, c, h, w, classes int, train bool, mu, wd float32, nesterov, bn bool, form onnxgen.WeightGrad) (*onnxpb.ModelProto, []string, [][]int64) {
	t.Helper()
	in := onnxgen.Input{C: c, H: h, W: w}
	opts := onnxgen.Options{BatchNorm: bn}
	var m *onnxpb.ModelProto
	var err error
	if train {
		m, err = onnxgen.CompileTrain(a, in, classes, onnxgen.TrainOptions{Options: opts, Momentum: mu, WeightDecay: wd, Nesterov: nesterov, WeightGrad: form})
	} else {
		m, err = onnxgen.CompileEval(a, in, classes, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	ps, err := onnxgen.InitParams(a, in, classes, opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var shapes [][]int64
	for _, p := range ps {
		names, shapes = append(names, p.Name), append(shapes, p.Shape)
	}
	return m, names, shapes
}

// allForms is the cost model's choice followed by every weight-gradient
// formulation forced on every layer: the gradient checks run each.
func allForms() []onnxgen.WeightGrad {
	return append([]onnxgen.WeightGrad{onnxgen.WeightGradAuto}, onnxgen.WeightGradForms()...)
}
