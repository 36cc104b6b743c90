// Package runner trains and runs compiled child networks with ONNX Runtime
// (ORT). It is the only package of nas that imports onnxruntime_go (cgo); it
// knows nothing of architectures: a child arrives as plain data, the
// serialized ONNX graphs and the parameter list that onnxgen produced.
//
// # The runtime
//
// New loads the ORT shared library once per process, from Config.LibraryPath,
// else $NAS_ORT_LIB, else <dir of executable>/../.ort/libonnxruntime.so.1,
// else ./.ort/libonnxruntime.so.1 (`make ort` fetches the CPU build there).
// A later New must name the same library. Every session runs with all graph
// optimisations and Config.Threads intra-op threads.
//
// # The child interface
//
// Parameters are an ordered list of (Name, Shape, Data), named after layer
// positions: l3.conv.w [F,Cin,KH,KW], l3.conv.b [F], optional l3.bn.scale,
// l3.bn.bias, l3.bn.mean, l3.bn.var, and head.fc.w [classes,Cin],
// head.fc.b [classes]. Scalars have shape [1] (onnxruntime_go cannot make
// rank-0 tensors).
//
//   - Inference graph: input image float[N,C,H,W] (N symbolic), output
//     logits float[N,classes]; the parameters are initializers. Infer runs it.
//   - Training-step graph: inputs image, label int64[N], lr float[1], every
//     parameter p in list order, then every momentum buffer p.mom; outputs
//     loss float[1] (batch mean), correct int64[1] (argmax hits), every
//     p.next, then every p.mom.next. A parameter has a buffer when the graph
//     has an input named p.mom (the runner reads the graph's input names from
//     the model bytes): batch-norm running statistics, which the graph
//     updates without SGD, have none. Buffers start at zero. The graph holds forward pass, backward
//     pass and the SGD update with PyTorch semantics: d = g + wd·w;
//     v' = μ·v + d; w' = w − lr·v' (Nesterov: w' = w − lr·(d + μ·v')), μ and
//     wd baked in, lr an input so that the runner schedules it.
//   - Evaluation graph: inputs image, label, every parameter; outputs loss,
//     correct. Evaluate runs it.
//
// # Training
//
// Train creates one training session and one evaluation session per trial
// and destroys them, with every tensor, when it returns. All tensors are made
// once, before the first step, over Go slices:
//
//   - The image batch [Batch,C,H,W] and the labels [Batch]: each step writes
//     the next batch into them in place.
//   - Two sets of weight tensors and two of momentum tensors. A step reads set
//     A and writes set B; the next reads B and writes A (ORT forbids an output
//     sharing memory with an input). The outputs of step k are the inputs of
//     step k+1: no copies.
//   - loss and correct, preallocated outputs.
//
// Each set is bound once to the session through an ORT IoBinding (one per
// direction), and a step is one RunWithBinding: in the steady state a step
// allocates nothing in Go (a test checks it; DynamicAdvancedSession.Run would
// allocate two small slices per call).
//
// Every epoch visits the training set in a new order, shuffled by a PCG
// generator seeded from TrainOptions.Seed, in batches of Batch images; the
// last partial batch of an epoch is dropped, so every step has the same
// shape. After every epoch the current weights are evaluated on every image
// of the validation set, in order: full batches of EvalBatch, then one batch
// of the remainder through its own preallocated tensors (nothing is padded,
// every image counts once). The reward is (max validation accuracy over the
// last RewardK epochs)^RewardP, over all epochs when there are fewer.
//
// # Outcomes and errors
//
// Train returns an error, prefixed "runner: ", only for the caller's
// mistakes (invalid options, a child whose parameters do not match their
// shapes, data sets that are empty, inconsistent or have labels out of
// range) and for cancellation: the context is checked before every batch and
// every validation batch, and a cancelled Train returns ctx.Err() itself.
// Otherwise the trial has a Status:
//
//   - Done: every epoch ran; Result has the accuracies, reward and trained
//     weights.
//   - Oversized: EstimateMemory (parameters × 4 sets, the batch, and
//     Child.ActivationFloats × 2 per image) exceeds TrainOptions.MemoryLimit;
//     decided before any session exists.
//   - Diverged: a training batch's loss (or a validation loss) was NaN or
//     infinite; reward 0.
//   - Failed: ORT rejected a graph (parse, type check, a parameter name the
//     graph lacks) or a run failed; Reason holds ORT's message; reward 0.
//   - Stopped: after an epoch, the best validation accuracy so far was below
//     TrainOptions.StopBelow's threshold for it (early stopping); the reward
//     comes from the epochs that ran; no weights.
//
// A missing or wrong ORT library is reported by New, once, with the path
// tried and "run make ort or set NAS_ORT_LIB" (errors.Is ErrLibrary).
//
// # Devices
//
// Config.Device "cpu" (the default) uses ORT's CPU provider. "cuda" appends
// ORT's CUDA execution provider to every session and makes New fail when the
// library cannot load it (the npm build `make ort` fetches is CPU-only, where
// it always fails). "auto" tries CUDA and falls back to the CPU with a
// warning on Config.Logger. To train on a GPU, install an ORT GPU build of
// a version that serves C API 24 (1.24 or later) with its CUDA and cuDNN
// libraries, point NAS_ORT_LIB (or Config.LibraryPath) at its
// libonnxruntime.so and select the device "cuda" (the nas command's --device cuda).
//
// Honestly: this implementation binds CPU tensors (Go slices) through its
// IoBindings, so on CUDA the weights, momentum buffers and batch travel
// between host and device on every step. Keeping them on the device needs
// IoBinding with CUDA-allocated OrtValues, which onnxruntime_go v1.27 does not
// expose; a CUDA run is correct but pays those copies.
package runner
