// Package onnxgen is the compiler of nas: it owns the architecture language
// (the token strings the controller writes) and compiles an architecture into
// ONNX graphs that stock ONNX Runtime runs.
//
// # The architecture language
//
// An architecture string describes a CNN child network as whitespace-separated
// tokens. The token "|" separates layers, numbered from 0. Within a layer each
// token is one decision, named by its prefix, in any order, each at most once:
//
//	khN   filter (kernel) height N      required
//	kwN   filter width N                required
//	shN   stride height N               optional, default 1
//	swN   stride width N                optional, default 1
//	fN    number of filters N           required
//	pN    N×N max pool, stride N        optional, default p0 (none); N = 0 or N ≥ 2
//	inJ   layer J feeds this layer      zero or more, J an earlier layer, no repeats
//
// Grammar (EBNF; tokens are separated by any Unicode whitespace, and "|" must
// stand alone: "f3|" is a malformed number):
//
//	arch     = layer { "|" layer } .
//	layer    = decision { decision } .            (kh, kw, f present; each of kh kw sh sw f p at most once)
//	decision = ("kh" | "kw" | "sh" | "sw" | "f") number | "p" pool | "in" index .
//	pool     = "0" | number .                     (not 1: a 1×1 pool is none, spelled p0 or no p token)
//	number   = nonzero { digit } .                (1 .. 1048576, no sign, no leading zero)
//	index    = "0" | number .                     (smaller than the layer's own number)
//
// Example: "kh3 kw3 f36 | kh5 kw5 f48 in0 | kh3 kw3 sh2 sw2 f64 in0 in1" is
// three layers; layer 2 is fed by layers 0 and 1. Meaning: a layer with no in
// token takes the image; several inputs are concatenated along channels, the
// smaller feature maps zero-padded at the bottom and right to the largest;
// each layer is a convolution with 'same' padding (output size
// ceil(input/stride)), then batch norm if enabled, then ReLU, then, with a
// pN token (N ≥ 2), an N×N max pool with stride N and no padding (output
// floor(size/N), as PyTorch's MaxPool2d: rows and columns that fill no
// window are dropped; a pool larger than the map is an error, like a stride
// larger than it); the layers no
// later layer uses (Arch.HeadInputs) are concatenated the same way and feed the
// head (global average pooling, then a fully connected layer). Arch.Shapes and
// Arch.Cost compute sizes, parameter counts and multiply-adds without building
// a graph.
//
// Canonical form (Format, Arch.String): per layer the tokens kh kw sh sw f p in,
// sh and sw omitted when 1, p omitted when 0 (no pooling), in tokens ascending, one space between tokens,
// " | " (LayerSeparator) between layers. Format(Parse(s)) is canonical and
// Parse(Format(a)) == a, so the canonical string identifies an architecture.
//
// Kinds: a first token containing ":" is a kind tag (KindOf reads it). A CNN
// string has no tag; "rnn:" is reserved for recurrent cells and rejected
// until they land, as is any other tag.
//
// Search spaces: Parse checks syntax and structure only. A Space lists the
// options of each decision, the most layers and whether skip connections
// (anchors) are searched; without anchors every layer i > 0 must carry the
// token in<i-1>. The presets (SpaceByName, SpaceNames) are the paper's three:
//
//	v1       kernels 1, 3, 5, 7 (height and width); filters 24, 36, 48, 64;
//	         stride 1; up to 15 layers; skips searched
//	v2       v1 with strides 1, 2, 3 (height and width); up to 20 layers
//	v3       v2 with max pooling: per layer p0 (none) or p2 (2×2, stride 2,
//	         after the ReLU); up to 39 layers (the paper's v3 depth)
//	v3-wide  v3 with more filters: 24, 36, 48, 64, 96, 128 (the paper's
//	         "v3 + more filters" widened the network it found; here the
//	         wider choices are searched, and v3 ⊂ v3-wide)
//
// Pooling is a per-layer decision p, after f, not a layer kind: the
// controller, random search and evolution sample and mutate it like the
// others, and it keeps the layer count and numbering (layer i is still the
// i-th convolution). A space without Pools (v1, v2) has no p decision at
// all, so its programs, decision vectors, strings and searches are those it
// had before pooling existed. Space.ParseArch parses and checks a
// string against a space; Space.Check does the same for an Arch built in code;
// Space.Decisions gives the controller the token of every option, so that it
// writes strings in this language without importing this package.
//
// Errors: Parse and Space.ParseArch return a *ParseError whose Pos is the
// 0-based index of the offending token, counting "|" tokens:
//
//	onnxgen: token 7 "kh9": filter height 9 not in space v1 (want 1, 3, 5, 7)
//	onnxgen: token 4 "in5": layer 1 cannot be fed by layer 5 (not an earlier layer)
//
// A missing decision or an empty layer is reported at the "|" that closes the
// layer, or at the end (Pos = number of tokens, printed "token 6 (end)"); a
// layer beyond Space.MaxLayers at the "|" that opens it; a default stride that
// is not an option at the layer's end. Errors about an Arch built in code
// (Arch.Validate, Space.Check, Arch.Shapes, Arch.Cost) name the layer instead:
// "onnxgen: layer 4: stride 3x3 on a 2x2 feature map (input 8x8)".
//
// # Training graphs
//
// CompileTrain writes one SGD step of a child network as a plain ONNX graph
// (IR 8, opset 17, standard ops only: stock ONNX Runtime runs it; its training
// API and the com.microsoft / ai.onnx.preview.training ops are not used).
// CompileEval writes the evaluation graph. The batch size N stays symbolic.
//
// CompileNet compiles both, with the initial parameters, into a child.Net
// (package internal/child, the contract with the runner): the graphs' bytes
// and, produced by the same Builder that wrote them, the name, type and shape
// of every input and output and the role of each: batch inputs image and
// label (InputImage, InputLabel), the learning rate lr (InputLR), the state
// pairs p → p.next (starting from the parameter) and p.mom → p.mom.next
// (starting at zero), and the metrics loss (MetricLoss: a batch mean that must
// stay finite) and correct (MetricRight: a count). The runner binds from that
// description, never from the bytes, and never imports onnxgen.
//
// Training-step graph, in this order:
//
//	inputs   image float[N,C,H,W], label int64[N], lr float[1],
//	         every parameter p (list order),
//	         p.mom for every trained parameter (same shape, list order)
//	outputs  loss float[1] (mean over the batch), correct int64[1] (argmax hits),
//	         p.next for every parameter, p.mom.next for every trained parameter
//
// The running mean and variance of a batch norm (l3.bn.mean, l3.bn.var) are
// state, not trained: they are inputs p and outputs p.next like the others,
// but have no momentum buffer (no p.mom, no p.mom.next); every other parameter
// has one. CompileNet's description lists the exact names. Buffers start at
// zero; an output never aliases an input, so a runner keeps two sets of
// tensors and swaps them each step. Scalars have shape [1].
//
// Evaluation graph: inputs image, label, every parameter; outputs loss,
// correct. Batch norm uses the running statistics there.
//
// The step computes, with PyTorch's semantics (torch.optim.SGD; μ, wd and
// Nesterov are constants of TrainOptions baked into the graph, lr an input so
// that the runner schedules it):
//
//	d = g + wd·w;  v' = μ·v + d;  w' = w − lr·v'   (Nesterov: w' = w − lr·(d + μ·v'))
//
// Forward: the inference graph's own forward pass (forwardPass in infer.go:
// zero-padded concatenation of the inputs, Conv with the 'same' padding as
// its pads, batch norm, ReLU, MaxPool; the head's concatenation, GlobalAveragePool,
// Gemm), emitted into the same Builder with the parameters as inputs. Batch
// norm in the training step uses the batch's statistics (biased variance,
// Options' ε) and updates the running ones like PyTorch: r' = 0.9·r + 0.1·s,
// the variance unbiased with M/(M−1), M = N·H·W (so N·H·W must exceed 1, as
// in PyTorch). Loss: SoftmaxCrossEntropyLoss (mean) with its log_prob.
//
// Backward, op by op:
//
//	logits     dlogits = (Exp(log_prob) − OneHot(label)) / N   (N = ReduceSum(OneHot(label)))
//	Gemm       dW = ReduceSum(dy[:,:,None]·x[:,None,:], [0]), a broadcast product summed
//	           over N (Gemm(dy, x, transA) would do too; this form is kept because the
//	           tensors are small and changing it would change every trained model's
//	           bits); db = ReduceSum(dy, [0]); dx = MatMul(dy, W)
//	GAP        dx = dy · a constant [1,1,H,W] of 1/(H·W) (broadcast)
//	MaxPool    P×P, stride P: each window's gradient goes to its first
//	           maximum in row-major order, PyTorch's choice on ties: the
//	           windows of the Relu (cropped to P·⌊H/P⌋ × P·⌊W/P⌋) become
//	           P² phase planes (SpaceToDepth, Reshape to [N,P²,F,H/P,W/P]);
//	           OneHot(ArgMax over the phases, first index on ties) times dy,
//	           Transpose and Reshape back, DepthToSpace (DCR) to the
//	           windows, Pad with zeros for the cropped rows and columns. No
//	           scatter (ORT's ScatterND with reduction is unsafe with threads)
//	Concat/Pad the Slice of each piece (channels, then rows/columns [0,h)×[0,w))
//	fan-out    the gradients of a layer read by several consumers are Summed
//	ReLU       dz = Where(Greater(y, 0), dy, 0)
//	BatchNorm  dx̂ = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy; dz = (dx̂ − mean dx̂ − x̂·mean(dx̂·x̂)) / σ
//	Conv bias  db = ReduceSum(dz, [0,2,3])
//	Conv input stride 1: Conv(dz, flipped transposed W); otherwise
//	           ConvTranspose(dz, W, strides, pads, output_padding); not emitted
//	           for layers fed by the image only
//	Conv weight im2col: one grouped Conv (group = C) of the input with the
//	           layer's pads and strides and one-hot kernels (a [1,K,1,KH,KW]
//	           identity times C ones, folded by ORT at session start) gives the
//	           columns [N, C·KH·KW, HO·WO]; a batched MatMul with dzᵀ
//	           [N, HO·WO, F], ReduceSum over N, Transpose, Reshape. For stride 1
//	           with fewer filters than input channels (F < C, a layer reading a
//	           wide concatenation) the columns come from dz instead: a grouped
//	           Conv of dz (group = F) with flipped one-hot kernels gives its
//	           shifted copies [N, F·KH·KW, H·W]; MatMul with xᵀ [N, H·W, C],
//	           ReduceSum over N, Transpose to [F, C, KH·KW]
//
// The conv-weight form was measured with ORT 1.30 on 2 cores for a 3×3 layer
// of 36→36 channels at batch 64 on 32×32 (one weight gradient, mean of 40
// runs, the machine otherwise quiet): the direct form (Conv of the transposed
// padded input with the transposed dz as kernel) 40 ms; DESIGN.md's im2col
// from Pad + Slice + Concat with one Gemm 43 ms (the Transpose of the big
// column matrix dominates); the same columns with a batched MatMul 28 ms; the
// columns from the one-hot grouped Conv with a batched MatMul (chosen) 14 ms.
// Building the columns costs C·K² multiply-adds and C·K·H·W floats per image
// from x, F·K² and F·K·H·W from dz; in the 15-layer benchmark architecture C
// of bench/archs.txt (layers reading up to 120 channels, 36–48 filters) the
// x columns took 26% of the step in ORT's profiler, the MatMul 22%.
//
// Errors: CompileTrain and CompileEval return an error ("onnxgen: ...") for an
// invalid architecture, input or options; they never panic.
//
// # Graphs
//
// The graphs are written with package onnxgen/graph, the generic ONNX graph
// builder (typed values, shapes checked as each op is added, a sticky error,
// the readable Text the golden files hold); this package holds only what is
// particular to its architectures.
//
// Inference graph (Compile): input "image" float[N,C,H,W], output "logits"
// float[N,classes], every parameter an initializer. Values are named by layer
// position: per layer i, "li.in" (the concatenation of its inputs, its padded
// pieces "li.in.padj"), "li.conv", "li.bn", "li.relu", "li.pool" (a
// MaxPool, when the layer pools); the head "head.in",
// "head.gap", "head.flat", then "logits" (Gemm, transB). Conv pads are the
// 'same' padding of its (odd) kernel: (k−1)/2 on each side, as PyTorch's
// padding=(k−1)//2, so the output is ceil(in/s); identical to the training
// graph's so that one set of weights serves both.
//
// Parameters (InitParams, Param): in order, per layer li.conv.w
// [F,Cin,KH,KW], li.conv.b [F], with batch norm li.bn.scale, li.bn.bias,
// li.bn.mean, li.bn.var [F]; then head.fc.w [classes,Chead], head.fc.b
// [classes]. Weights are He-normal (fan_in) from a PCG source seeded with
// Options.Seed, biases 0, batch norm scale 1, bias 0, mean 0, var 1.
// ParamsOf reads them back from a model.
//
// The golden files in testdata/*.txtar hold graph.Text of the inference and
// training graphs.
//
// Errors: Compile and InitParams return an error ("onnxgen: ...") for an
// invalid architecture (the messages of Arch.Shapes), fewer than 2 classes,
// invalid Options, or Params whose names or shapes do not match; a graph
// builder op's error names the op and its output ("onnxgen: Concat
// \"l2.in\": ...").
package onnxgen
