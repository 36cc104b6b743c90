// Package graph writes ONNX graphs: the generic builder that nas's
// compilers (package onnxgen; later the cell compiler) share. It knows ONNX,
// not architectures, and imports nothing of nas but the generated ONNX types.
//
// Builder writes graphs for IR 8, opset 17, default domain only, producer
// "nas": what Debian's onnx 1.12 checker validates and ONNX Runtime 1.30
// runs. It is explicit and typed: NewBuilder, then Input (in order),
// Initializer / Scalar / Int64s (constants; Int64s are named by their content,
// "const.i.0.2.3", and shared), one method per op, Output (in order), Model.
// Each op takes the output's name first and Values (name, element type,
// shape) and returns the output Value; it checks types and shapes and infers
// the output's when it is added, with numpy broadcasting and the symbolic
// batch dimension Batch (printed "N", which broadcasts only against itself
// and 1, and can be contracted, as Gemm(transA) and a batched MatMul do, but
// not flattened, padded or moved). The first error sticks: later ops return
// the zero Value and add nothing, and Err and Model report it, so a graph is
// one op per line. Names must be unique; nodes are in call order, so every
// value is defined before it is used (CheckOrder verifies that of any
// graph). Inputs and Outputs return the signature as declared, which a
// compiler hands on as the graph's description. Ops: Conv, ConvTranspose
// (ConvAttrs), BatchNormalization (inference mode), Relu, Exp, Log, Sqrt,
// Reciprocal, Identity, Cast, Add, Sub, Mul, Div, Sum, Greater, Equal, Where,
// Pad (zeros), Concat, GlobalAveragePool, MaxPool, SpaceToDepth,
// DepthToSpace (DCR), Flatten, Reshape, Transpose,
// Unsqueeze, Slice, ReduceSum, ReduceMean, ArgMax, Gemm (GemmAttrs), MatMul,
// OneHot, SoftmaxCrossEntropyLoss (mean; rank-0 loss). A new op is one small
// method: check the inputs, compute the output shape, call op1.
//
// Text prints a model from its ModelProto in a subset of the ONNX textual
// syntax (header, signature, initializers as shapes only, one node per line
// "out = Op <attr = value, ...> (in, ...)", attributes sorted); golden files
// hold it.
//
// Errors: an op's error names the op and its output ("onnxgen: Concat
// \"l2.in\": ..."; the prefix is the compiler's, whose error it becomes).
package graph
