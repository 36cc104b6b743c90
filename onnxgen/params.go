package onnxgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// Param is one parameter tensor of a child network: its name (derived from
// its position: "l3.conv.w"), shape and data in row-major order. It is the
// contract's type (package child), which the runner takes as it is.
type Param = child.Param

// paramSpecs lists the parameters of a network, in the interface's order,
// without data: per layer l<i>.conv.w [F,Cin,KH,KW] and l<i>.conv.b [F], then
// with batch norm l<i>.bn.scale, .bias, .mean, .var [F]; last head.fc.w
// [classes, Chead] and head.fc.b [classes].
func paramSpecs(a Arch, shapes []LayerShape, head Input, classes int, batchNorm bool) []Param {
	var ps []Param
	for i, l := range a.Layers {
		f := int64(l.Filters)
		ps = append(ps,
			Param{Name: fmt.Sprintf("l%d.conv.w", i), Shape: []int64{f, int64(shapes[i].In.C), int64(l.KH), int64(l.KW)}},
			Param{Name: fmt.Sprintf("l%d.conv.b", i), Shape: []int64{f}})
		if batchNorm {
			for _, k := range []string{"scale", "bias", "mean", "var"} {
				ps = append(ps, Param{Name: fmt.Sprintf("l%d.bn.%s", i, k), Shape: []int64{f}})
			}
		}
	}
	return append(ps,
		Param{Name: "head.fc.w", Shape: []int64{int64(classes), int64(head.C)}},
		Param{Name: "head.fc.b", Shape: []int64{int64(classes)}})
}

// specsFor checks the network and returns its parameter list without data.
func specsFor(a Arch, in Input, classes int, opts Options) ([]Param, []LayerShape, Input, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, Input{}, err
	}
	if classes < 2 {
		return nil, nil, Input{}, fmt.Errorf("onnxgen: %d classes (want at least 2)", classes)
	}
	shapes, err := a.Shapes(in)
	if err != nil {
		return nil, nil, Input{}, err
	}
	head := concat(shapes, a.HeadInputs())
	return paramSpecs(a, shapes, head, classes, opts.BatchNorm), shapes, head, nil
}

// InitParams initialises the parameters of a as a classifier of classes
// classes for images of size in: conv and fc weights He-normal (Kaiming,
// fan_in: standard deviation √(2/fan_in), fan_in = Cin·KH·KW or Cin), biases
// 0; with opts.BatchNorm scale 1, bias 0, mean 0, var 1. The numbers come
// from a PCG source seeded with opts.Seed (math/rand/v2), drawn in parameter
// order, so one seed gives the same parameters on every platform.
// opts.Params is ignored.
func InitParams(a Arch, in Input, classes int, opts Options) ([]Param, error) {
	opts.Params = nil
	specs, _, _, err := specsFor(a, in, classes, opts)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6e6173)) // "nas"
	for i := range specs {
		p := &specs[i]
		n, _ := graph.NumElements(p.Shape)
		p.Data = make([]float32, n)
		switch {
		case len(p.Shape) > 1: // weights
			fanIn := n / int(p.Shape[0])
			std := math.Sqrt(2 / float64(fanIn))
			for k := range p.Data {
				p.Data[k] = float32(rng.NormFloat64() * std)
			}
		case isOnes(p.Name):
			for k := range p.Data {
				p.Data[k] = 1
			}
		}
	}
	return specs, nil
}

var onesRE = regexp.MustCompile(`\.bn\.(scale|var)$`)

func isOnes(name string) bool { return onesRE.MatchString(name) }

// checkParams checks that ps has the names and shapes of want, in order.
func checkParams(ps, want []Param) error {
	if len(ps) != len(want) {
		return fmt.Errorf("onnxgen: %d parameters, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		w := want[i]
		if p.Name != w.Name || !slices.Equal(p.Shape, w.Shape) {
			return fmt.Errorf("onnxgen: parameter %d is %s %s, want %s %s", i, p.Name, graph.DimsString(p.Shape), w.Name, graph.DimsString(w.Shape))
		}
		if n, _ := graph.NumElements(p.Shape); len(p.Data) != n {
			return fmt.Errorf("onnxgen: parameter %s: %d values for shape %s", p.Name, len(p.Data), graph.DimsString(p.Shape))
		}
	}
	return nil
}

var paramRE = regexp.MustCompile(`^(l[0-9]+\.(conv\.[wb]|bn\.(scale|bias|mean|var))|head\.fc\.[wb])$`)

// ParamsOf reads the parameters back from a model that Compile wrote: the
// float initializers named like parameters, in the model's order (which is
// the parameter order). The data is copied.
func ParamsOf(m *onnxpb.ModelProto) ([]Param, error) {
	var ps []Param
	for _, t := range m.GetGraph().GetInitializer() {
		if !paramRE.MatchString(t.GetName()) {
			continue
		}
		if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) || len(t.GetRawData()) > 0 {
			return nil, fmt.Errorf("onnxgen: initializer %s: want float_data", t.GetName())
		}
		n, ok := graph.NumElements(t.GetDims())
		if !ok || n != len(t.GetFloatData()) {
			return nil, fmt.Errorf("onnxgen: initializer %s: %d values for shape %s", t.GetName(), len(t.GetFloatData()), graph.DimsString(t.GetDims()))
		}
		ps = append(ps, Param{Name: t.GetName(), Shape: slices.Clone(t.GetDims()), Data: slices.Clone(t.GetFloatData())})
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("onnxgen: model has no parameters")
	}
	return ps, nil
}
