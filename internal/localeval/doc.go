// Package localeval is the in-process search.Evaluator: it compiles a
// trial's architecture with onnxgen and trains it with runner (ONNX
// Runtime) on data sets held in memory. cmd/nas wires it; the search
// package never imports it (search builds without cgo), and a remote worker
// would serve the same search.Evaluator interface.
//
// # A trial
//
// Evaluate(ctx, trial):
//
//  1. parses trial.Arch (onnxgen.Parse) and computes its cost
//     (onnxgen.Arch.Cost: parameters, multiply-adds) for the data's image
//     size and classes; a parse or shape error (e.g. a stride larger than
//     its feature map) is status Failed;
//  2. refuses a child with more than Child.MaxParams parameters: Oversized;
//  3. compiles the child (BuildChild, onnxgen.CompileNet: parameters
//     initialised He-normal from trial.Seed, the training-step and
//     evaluation graphs with Child's momentum, weight decay, Nesterov and
//     batch norm, and their description); a compile error is Failed;
//  4. trains with runner.Train on the data sets (a *dataset.Set is a
//     runner.Source: it fills the image and label columns; epochs, batch,
//     lr, cosine schedule, memory limit, shuffling seeded by trial.Seed), an
//     epoch's score being its validation accuracy (Accuracy: correct /
//     examples), and maps its status (Done, Stopped, Diverged, Oversized by
//     the memory estimate, Failed);
//  5. computes the reward of a Done or Stopped child from the accuracies,
//     the paper's (Reward: max over the last RewardK epochs, to the power
//     RewardP);
//  6. for Done, compiles the inference graph with the trained parameters
//     (onnxgen.Compile with Options.Params) and returns it as Outcome.Model.
//
// The memory estimate (runner.EstimateMemory) counts the compiler's
// activation floats per image (every forward value of the training graph:
// the padded concatenations of each layer's inputs and the head's, each
// layer's convolution output, batch norm output when on, and ReLU output),
// doubled for the gradients.
//
// Evaluate returns an error only for an infrastructure failure: a trial
// whose options do not fit the data (e.g. a batch larger than the training
// set), an ONNX Runtime error that is not the child's fault, or
// cancellation (ctx's error). Evaluate is safe for concurrent use; every
// call makes its own ORT sessions, so P parallel trials use P × the
// runtime's threads.
//
// # Data
//
// LoadData prepares the data of a search: dataset.Load(spec, root), then
// ValSize validation images split off the training images (seeded), then a
// seeded subset of TrainSize training images, then per-channel
// normalisation with the statistics of that training subset, applied to
// both. The test split is not used by the search.
package localeval
