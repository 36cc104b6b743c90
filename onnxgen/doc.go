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
// string has no tag; "rnn:" tags a recurrent cell (the cell language, below),
// which ParseCell reads. Parse refuses a cell at its first token, saying to
// use ParseCell, and any other tag as unsupported.
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
// # The cell language
//
// A recurrent cell (kind "rnn", type Cell; the paper's second search space)
// computes h_t from x_t and h_{t-1} with a binary tree of 2·B−1 nodes over B
// leaves (the base: 2, 4 or 8; the paper's is 8) and carries a memory state
// c beside h. Nodes are numbered in level order, leaves first: leaves
// 0 … B−1 are level 0, the B/2 nodes of level 1 follow, …, the root 2·B−2
// is the last level. Each node chooses a combination (add: elementwise sum;
// mul: elementwise product) and an activation (identity, tanh, sigmoid,
// relu):
//
//	leaf i                act(comb(W_i·x_t, U_i·h_{t-1} + b_i))
//	node j of level l > 0 act(comb(left, right)), left and right the outputs of
//	                      nodes 2j and 2j+1 of level l−1 (indices within the level)
//	the root's output     h_t
//
// The inject, a combination and an activation of its own, merges c_{t-1}
// into the output of node N (token atN): out_N ← act_inj(comb_inj(out_N,
// c_{t-1})), which the nodes above N read. c_t is the pre-activation of
// node M (token cM): comb(left, right) before M's activation and before an
// inject at M. Any node may be N and any node M, as in the paper, whose
// example takes c_t from a leaf: the inject may be at a leaf or the root
// (then it changes h_t, and c_{t-1} reaches h_t only through it), c_t may
// come from a leaf or the root, and N = M is allowed. c_t depends on c_{t-1}
// only when N is below M; a cell whose memory forgets itself is valid, and a
// search may find it.
//
// Grammar (EBNF; tokens are separated by any Unicode whitespace, and "|"
// and the tag "rnn:" stand alone: "rnn:base8" and "tanh|" are errors):
//
//	cell   = "rnn:" base level { level } inject .
//	base   = "base2" | "base4" | "base8" .
//	level  = "|" node { node } .          (exactly B/2^l nodes in level l, every level
//	                                       present: base 8 has levels of 8, 4, 2, 1)
//	node   = comb act .
//	comb   = "add" | "mul" .
//	act    = "identity" | "tanh" | "sigmoid" | "relu" .
//	inject = "|" "inject" comb act at from .
//	at     = "at" index .                 (one token: at9; N receives c_{t-1})
//	from   = "c" index .                  (one token: c12; M's pre-activation is c_t)
//	index  = "0" | nonzero { digit } .    (0 … 2·B−2, no sign, no leading zero)
//
// Canonical form (Cell.String): the tokens in grammar order with one space
// between them (so " | " between groups). Every cell has one spelling, so
// the canonical form of an accepted string is its tokens joined by single
// spaces; ParseCell(c.String()) equals c for every valid c. Meaning and
// form of the named cells (CellByName, CellNames; cell_named.go derives
// them by hand, and a test evaluates them on numbers against the closed
// forms):
//
//	nascell  the cell Zoph & Le found, as TensorFlow shipped it (tf.contrib.rnn.NASCell):
//	         rnn: base8 | add sigmoid add relu add sigmoid mul relu add tanh add sigmoid add tanh add sigmoid
//	         | mul tanh add tanh mul tanh add sigmoid | mul identity add tanh | mul tanh
//	         | inject add tanh at8 c12
//	lstm     an exact LSTM: i = n0, g = n1, f = n9 = σ(n2+n3), i⊙g = n8, f⊙c_{t-1} (the
//	         inject at 9), c_t = i⊙g + f⊙c_{t-1} (n12's pre-activation), o = n13,
//	         h_t = tanh(c_t)⊙o (the root); n2 … n7, n10, n11 are affine (add identity):
//	         rnn: base8 | add sigmoid add tanh add identity add identity add identity add identity add identity add identity
//	         | mul identity add sigmoid add identity add identity | add tanh add sigmoid | mul identity
//	         | inject mul identity at9 c12
//
// Errors: ParseCell returns a *ParseError as Parse does, Pos the 0-based
// token index counting the tag and the "|" tokens:
//
//	onnxgen: token 26 "|": level 1 has 3 nodes (want 4; base 8 has levels of 8, 4, 2, 1 nodes)
//	onnxgen: token 40 "at15": node 15 out of range for the node that receives c_{t-1} (want 0..14: base 8 has 15 nodes)
//
// A level with too few nodes is reported at the "|" that closes it (or the
// end), one with too many at the first extra node, a node without its
// activation at the level's end, a missing level at the "inject" token that
// came too early (or the end), a missing inject group at the end, anything
// after the inject group at its first token. A base other than 2, 4 or 8, an
// unknown token and an index outside 0 … 2·B−2 are reported at the token.
// Cell.Validate checks a Cell built in code (base, 2·B−1 nodes, the enums'
// ranges, the two indices) and names the node: "onnxgen: cell: node 3:
// combination 2 is not add (0) or mul (1)". Cell.String never panics; the
// string of an invalid cell does not parse.
//
// Cell search spaces: CellSpace{Base: B} is every cell of base B. Its
// Decisions, 4·B+2 in sampling order, are per node k = 0 … 2·B−2 "nK.comb"
// (tokens add, mul) and "nK.act" (identity, tanh, sigmoid, relu), then
// "inject.comb", "inject.act" and the two pointer decisions over the
// tree's nodes, "inject.at" and "cell.from", whose tokens are the node
// numbers "0" … "2·B−2". CellSpace.Choices gives a cell's decision vector
// (the option index of each decision) and CellSpace.Cell turns a vector
// back into the cell, whose String is the string the controller's choices
// stand for. The presets (CellSpaceByName, CellSpaceNames) are cell8 (the
// paper's), cell4 and cell2 (small trees for quick searches and tests):
// names meant for a search's --space (nas search does not take them yet),
// distinct from the CNN presets, so that a space's name can imply the kind
// of child.
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
//	Conv weight one of five forms per layer (WeightGrad; below)
//
// # The K-step graph
//
// CompileNet also writes the training step in a form that makes S steps per
// run (child.Net.Steps), for a runtime that should keep the state on its
// device between steps (ORT's CUDA provider with CPU-bound tensors copies
// every input and output once per run). It is one ONNX Loop whose trip count
// is the first dimension of the image (Shape, Gather) and whose loop-carried
// state is every state pair, in the contract's order: the parameters, the
// running statistics and the momentum buffers. The outer graph has the
// training graph's inputs and outputs, names and order, except that image,
// label, lr and the metrics gain a leading dimension S:
//
//	inputs   image float[S,N,C,H,W], label int64[S,N], lr float[S,1], every p, every p.mom
//	outputs  loss float[S,1], correct int64[S,1], every p.next, every p.mom.next
//
// The body is the training graph itself: its nodes and constants in their
// order, every name prefixed with "step/" (so nothing in the body shadows an
// outer name: the ONNX checker's SSA rule), after one Gather per per-step
// input that takes row i (the iteration number) of image, label and lr; its
// outputs are the condition (passed through), the states' next values and
// the per-step loss and correct, which the Loop stacks. Iteration i thus
// computes exactly what step i of the training graph computes; on the CPU
// the runner's test (TestStepsPerRun) finds the same bits. The language
// models have no K-step form (their step is itself a Scan over time; a Loop
// of Scans is possible but not built): their Steps is empty.
//
// # Conv weight gradient
//
// dW[f,c,ky,kx] = Σ_n,oy,ox dz[n,f,oy,ox]·xp[n,c,oy·sh+ky,ox·sw+kx] (xp: the
// input with the 'same' padding) has five formulations (WeightGrad), all
// standard ops, all run by the gradient checks (internal/gradcheck forces
// each on every layer with TrainOptions.WeightGrad):
//
//	cols-x     im2col columns [N, C·K, HO·WO] of x (K = KH·KW) from one grouped
//	           Conv (group C) with one-hot kernels (a [1,K,1,KH,KW] identity
//	           times C ones, folded by ORT at session start), a batched MatMul
//	           with dzᵀ [N, HO·WO, F], ReduceSum over N, Transpose
//	cols-dz    stride 1: the shifted copies of dz [N, F·K, H·W] from a grouped
//	           Conv of dz (group F) with the flipped one-hot kernels, a batched
//	           MatMul with xᵀ [N, H·W, C], ReduceSum, Transpose: F·K columns
//	           instead of C·K
//	direct     Conv of the padded input transposed to [C, N, H, W] with dz
//	           transposed to [F, N, HO, WO] as its kernel, dilations = strides,
//	           sliced to KH×KW, transposed
//	slices     the columns as K Slices (steps = strides) of the Pad-ded input,
//	           one Concat, the batched MatMul with dzᵀ
//	separable  the cols-x columns in two grouped one-hot Convs, 1×KW then
//	           KH×1: C·(KW² + KW·KH²) multiply-adds per pixel instead of C·K²
//
// The form of each layer is chosen by a cost model (chooseWeightGrad in
// wgrad.go): per form, predicted ns per image = a·(contraction
// multiply-adds) + b·(column-building multiply-adds) + c·(column floats
// written) + d, fitted (non-negative least squares on relative error) to the
// measurements below; the candidates are cols-x, cols-dz and separable; the
// form the compiler used before (cols-dz for stride 1 with F < C, else
// cols-x) is kept unless another is predicted at least 10% faster, and so
// are layers under 1M contraction multiply-adds per image (below the
// measured range). The choice is a pure function of the layer's geometry.
//
// Measured with BenchmarkConvWeightGrad (package runner: one weight gradient
// alone, batch 64, random x and dz, ORT 1.30, 2 intra-op threads, the
// project's 2-core machine shared with other work; the fastest of 4 runs in
// two rounds, ms; every form's result checked against cols-x's to 1e-4),
// 2026-12-01, "chosen" the cost model's pick:
//
//	layer            k   cols-x  cols-dz   direct   slices separable  chosen
//	36→36 32×32      3     30.6     33.4    103.3     54.7      34.8  cols-x
//	36→36 32×32      5     98.6    169.3    120.8    130.2      92.3  cols-x
//	36→36 32×32      7    215.2    201.1    166.9    258.8     158.2  separable
//	24→36 32×32      3     17.6     21.9     38.8     24.9      22.3  cols-x
//	24→36 32×32      5     55.0     73.3    116.4     68.7      49.0  cols-x
//	24→36 32×32      7    123.9    173.4    108.2    148.1      99.2  separable
//	64→64 16×16      3     20.3     21.5     36.6     22.8      24.6  cols-x
//	64→64 16×16      5     56.6     56.8     67.8     61.7      59.7  cols-x
//	64→64 16×16      7    119.3    120.5    153.6    179.9     118.8  cols-x
//	108→36 32×32     3     94.0     97.2    289.7    136.6     102.3  cols-dz
//	108→36 32×32     5    312.4    154.5    403.3    449.5     371.9  cols-dz
//	108→36 32×32     7    818.6    407.3    454.5    985.1     703.4  cols-dz
//	3→36 32×32       3      3.7     19.2     12.4      4.2       4.0  cols-x
//	3→36 32×32       5      8.9     61.8     16.0     11.6       7.9  cols-x
//	3→36 32×32       7     16.2    153.7     21.4     25.3      19.7  separable
//	36→48 32×32 s2   3     14.0        —     23.2     31.1      12.2  cols-x
//	36→48 32×32 s2   5     31.8        —     52.1    103.6      28.8  cols-x
//	36→48 32×32 s2   7     58.9        —     47.7    247.2      65.5  cols-x
//
// What the table says: the contraction (the batched MatMul, ~47 G
// multiply-adds/s) and writing and reading the columns (~0.55 ns a float:
// C·K·HO·WO floats per image, 2.4 MB for 24→36 5×5, past the caches) are
// the cost; the one-hot Conv's own multiply-adds matter only at 7×7, where
// separable saves 20–27% on 24–36 channels. The direct form's time varies
// up to 3× between rounds and is slowest but at 7×7 (MLAS runs it as
// im2col with C "images" and a GEMM of K columns); slices loses everywhere
// (ORT's strided Slice is slow). At 5×5 separable measured 6–11% faster
// than cols-x on 24–36 channels, but the fit predicts 1%, inside the
// margin: no layer of the benchmark architectures (3×3 and 5×5,
// bench/archs.txt) and none of the golden files changes form, and so no
// trained model's bits change for them; 7×7 layers of 24–36 channels (and
// the 3-channel image layer at 7×7, where the fit is wrong by 20%: measured
// slower) do. The fit's prediction is within 15% of the measurement at most
// points and ranks the forms as measured at 12 of 18; the measurements'
// own spread between rounds is 5–10% (up to 3× for the direct form).
// Whole steps (BenchmarkWeightGradFormsArch in runner: the benchmark
// architectures with every layer forced to one form beside the cost model's
// choice, steps alternated; time over auto's): C, whose wide layers get
// cols-dz and the others cols-x, 1.22× with cols-x everywhere, 1.10× with
// cols-dz everywhere, 1.19× with separable everywhere; B (auto is cols-x
// everywhere) 0.94× for the identical cols-x graph in another session and
// 0.93× for separable everywhere, A 1.05× and 1.00×: sessions of the same
// graph differ by ~5%, as much as separable's gain at 5×5.
//
// Closing the remaining gap needs a form that keeps the columns in cache
// (per-image or batch-chunked columns: ORT materialises a node's whole
// output, so that needs a Loop over images or a static batch), not another
// arrangement of the same columns.
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
