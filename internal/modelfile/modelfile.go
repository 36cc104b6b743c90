package modelfile

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// Info is what Read finds in a model.
type Info struct {
	Input    onnxgen.Input // C, H, W of the input image
	Classes  int
	Metadata map[string]string // metadata_props; empty, not nil, when it has none
}

// Read reads a serialised inference model.
func Read(b []byte) (Info, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return Info{}, fmt.Errorf("modelfile: not an ONNX model: %w", err)
	}
	dims := func(v *onnxpb.ValueInfoProto) []int64 {
		var d []int64
		for _, x := range v.GetType().GetTensorType().GetShape().GetDim() {
			d = append(d, x.GetDimValue())
		}
		return d
	}
	g := m.GetGraph()
	if len(g.GetInput()) != 1 || len(g.GetOutput()) != 1 {
		return Info{}, fmt.Errorf("modelfile: not a model nas wrote (want one input and one output)")
	}
	in, out := dims(g.GetInput()[0]), dims(g.GetOutput()[0])
	if len(in) != 4 || len(out) != 2 {
		return Info{}, fmt.Errorf("modelfile: input shape %v, output shape %v: want [N,C,H,W] and [N,classes]", in, out)
	}
	info := Info{Input: onnxgen.Input{C: int(in[1]), H: int(in[2]), W: int(in[3])}, Classes: int(out[1]), Metadata: map[string]string{}}
	for _, p := range m.GetMetadataProps() {
		info.Metadata[p.GetKey()] = p.GetValue()
	}
	return info, nil
}
