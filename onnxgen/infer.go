package onnxgen

import (
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

// DefaultBNEpsilon is the batch norm ε when Options.BNEpsilon is zero
// (PyTorch's default).
const DefaultBNEpsilon = 1e-5

// Options configure Compile and InitParams. The zero value compiles a
// network without batch norm, initialised from seed 0.
type Options struct {
	// BatchNorm puts a BatchNormalization (inference mode: running
	// statistics) between every convolution and its ReLU, with the
	// parameters l<i>.bn.scale, .bias, .mean, .var.
	BatchNorm bool
	// BNEpsilon is batch norm's ε; zero means DefaultBNEpsilon.
	BNEpsilon float32
	// Seed seeds the He initialisation of InitParams.
	Seed uint64
	// Params are the parameter values, in the order and with the names and
	// shapes InitParams gives; nil means InitParams(a, in, classes, opts).
	// The model shares their Data (no copy).
	Params []Param
	// InputMean and InputStd, when set (one value per image channel), fold
	// the input normalisation into the inference graph: it then takes raw
	// pixels and computes image.norm = (image − mean) / std first (a 1×1
	// convolution), so the exported model needs no preprocessing. Nil: the graph takes
	// normalised images. Training and evaluation graphs ignore them (the
	// runner feeds normalised batches).
	InputMean, InputStd []float32
	// Metadata is written into the inference model's metadata_props
	// (sorted by key), e.g. the architecture, data set and accuracies.
	Metadata map[string]string
}

// Validate checks the options alone: BNEpsilon must be finite and not
// negative. Compile checks Params against the architecture.
func (o Options) Validate() error {
	if e := float64(o.BNEpsilon); e < 0 || math.IsNaN(e) || math.IsInf(e, 0) {
		return fmt.Errorf("onnxgen: batch norm epsilon %g (want ≥ 0, 0 for %g)", o.BNEpsilon, DefaultBNEpsilon)
	}
	if len(o.InputMean) != len(o.InputStd) {
		return fmt.Errorf("onnxgen: %d input means but %d standard deviations", len(o.InputMean), len(o.InputStd))
	}
	for c, sd := range o.InputStd {
		if !(sd > 0) || math.IsInf(float64(sd), 0) || math.IsNaN(float64(o.InputMean[c])) || math.IsInf(float64(o.InputMean[c]), 0) {
			return fmt.Errorf("onnxgen: channel %d: input mean %g, std %g (want finite, std > 0)", c, o.InputMean[c], sd)
		}
	}
	return nil
}

func (o Options) epsilon() float32 {
	if o.BNEpsilon == 0 {
		return DefaultBNEpsilon
	}
	return o.BNEpsilon
}

// Compile writes the inference graph of a, a classifier of classes classes
// for images of size in: input "image" float[N,C,H,W], output "logits"
// float[N,classes], the parameters as initializers (opts.Params, or
// InitParams). Each layer is Conv ('same' padding, its stride, with bias),
// then BatchNormalization if opts.BatchNorm, then Relu, then MaxPool if the
// layer pools (kernel and stride its Pool, no padding); its input is the
// image, or the zero-padded concatenation of its input layers. The layers no
// later layer reads are concatenated the same way into the head:
// GlobalAveragePool, Flatten, Gemm (transB) to "logits".
func Compile(a Arch, in Input, classes int, opts Options) (*onnxpb.ModelProto, error) {
	specs, shapes, head, err := specsFor(a, in, classes, opts)
	if err != nil {
		return nil, err
	}
	ps := opts.Params
	if ps == nil {
		if ps, err = InitParams(a, in, classes, opts); err != nil {
			return nil, err
		}
	}
	if err := checkParams(ps, specs); err != nil {
		return nil, err
	}
	if opts.InputMean != nil && len(opts.InputMean) != in.C {
		return nil, fmt.Errorf("onnxgen: %d input means and standard deviations for %d image channels", len(opts.InputMean), in.C)
	}
	b := graph.NewBuilder("nas.infer")
	img := b.Input(InputImage, graph.Float, graph.Batch, int64(in.C), int64(in.H), int64(in.W))
	if opts.InputMean != nil {
		// (x − mean)/std per channel, as a 1×1 convolution with a diagonal
		// kernel: portable (onnx-go's Sub and Div do not broadcast).
		c := in.C
		kw, kb := make([]float32, c*c), make([]float32, c)
		for i := range c {
			kw[i*c+i] = 1 / opts.InputStd[i]
			kb[i] = -opts.InputMean[i] / opts.InputStd[i]
		}
		img = b.Conv("image.norm", img, b.Initializer("image.norm.w", []int64{int64(c), int64(c), 1, 1}, kw),
			b.Initializer("image.norm.b", []int64{int64(c)}, kb), graph.ConvAttrs{})
	}
	w := make(map[string]graph.Value, len(ps))
	for _, p := range ps {
		w[p.Name] = b.Initializer(p.Name, p.Shape, p.Data)
	}
	f, err := forwardPass(b, a, shapes, head, img, w, opts, nil)
	if err != nil {
		return nil, err
	}
	b.Output(f.logits)
	m, err := b.Model()
	if err != nil {
		return nil, err
	}
	SetMetadata(m, opts.Metadata)
	return m, nil
}

// SetMetadata replaces m's metadata_props with meta, sorted by key (so the
// model's bytes are deterministic).
func SetMetadata(m *onnxpb.ModelProto, meta map[string]string) {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m.MetadataProps = nil
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(meta[k])})
	}
}

// forwardValues are the values of a forward pass that the training graph's
// backward pass reads.
type forwardValues struct {
	in     []graph.Value // per layer: its input (the image or the padded concatenation)
	relu   []graph.Value // per layer: its Relu
	y      []graph.Value // per layer: its output (the Relu, or its max pool)
	head   graph.Value   // the head's input
	flat   graph.Value   // the pooled features [N, C]
	logits graph.Value
}

// forwardPass emits the forward pass of a from img to "logits" into b, with
// the parameters w (by name). A non-nil bn replaces the inference-mode
// BatchNormalization of layer i (the training graph's batch statistics).
func forwardPass(b *graph.Builder, a Arch, shapes []LayerShape, head Input, img graph.Value, w map[string]graph.Value, opts Options,
	bn func(i int, z graph.Value) graph.Value) (forwardValues, error) {
	f := forwardValues{in: make([]graph.Value, len(a.Layers)), relu: make([]graph.Value, len(a.Layers)), y: make([]graph.Value, len(a.Layers))}
	for i, l := range a.Layers {
		pre := fmt.Sprintf("l%d.", i)
		s := shapes[i]
		x := img
		if len(l.Inputs) > 0 {
			x = padConcat(b, pre+"in", f.y, l.Inputs, s.In)
		}
		f.in[i] = x
		pt, pb, ho := samePadding(s.In.H, l.KH, l.SH)
		pl, pr, wo := samePadding(s.In.W, l.KW, l.SW)
		if ho != s.Conv.H || wo != s.Conv.W {
			return f, fmt.Errorf("onnxgen: layer %d: padding gives %dx%d, shapes say %dx%d", i, ho, wo, s.Conv.H, s.Conv.W)
		}
		z := b.Conv(pre+"conv", x, w[pre+"conv.w"], w[pre+"conv.b"], graph.ConvAttrs{
			Strides: []int64{int64(l.SH), int64(l.SW)},
			Pads:    []int64{int64(pt), int64(pl), int64(pb), int64(pr)},
		})
		switch {
		case opts.BatchNorm && bn != nil:
			z = bn(i, z)
		case opts.BatchNorm:
			z = b.BatchNormalization(pre+"bn", z, w[pre+"bn.scale"], w[pre+"bn.bias"], w[pre+"bn.mean"], w[pre+"bn.var"],
				opts.epsilon(), 0.9)
		}
		f.relu[i] = b.Relu(pre+"relu", z)
		f.y[i] = f.relu[i]
		if l.Pool > 0 {
			f.y[i] = b.MaxPool(pre+"pool", f.relu[i], int64(l.Pool), int64(l.Pool))
		}
	}
	f.head = padConcat(b, "head.in", f.y, a.HeadInputs(), head)
	gap := b.GlobalAveragePool("head.gap", f.head)
	f.flat = b.Flatten("head.flat", gap, 1)
	f.logits = b.Gemm(OutputLogits, f.flat, w["head.fc.w"], w["head.fc.b"], graph.GemmAttrs{TransB: true})
	return f, nil
}

// padConcat concatenates the outputs ys[j] of the layers js along channels,
// each zero-padded at the bottom and right to size.H×size.W; the padded
// pieces are called out.pad<j> and the concatenation out (a single unpadded
// input is used as it is).
func padConcat(b *graph.Builder, out string, ys []graph.Value, js []int, size Input) graph.Value {
	parts := make([]graph.Value, 0, len(js))
	for _, j := range js {
		v := ys[j]
		if len(v.Shape) == 4 && (v.Shape[2] < int64(size.H) || v.Shape[3] < int64(size.W)) {
			v = b.Pad(fmt.Sprintf("%s.pad%d", out, j), v, 0, 0, 0, 0, 0, 0, int64(size.H)-v.Shape[2], int64(size.W)-v.Shape[3])
		}
		parts = append(parts, v)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return b.Concat(out, 1, parts...)
}
