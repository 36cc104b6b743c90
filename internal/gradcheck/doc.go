// Package gradcheck holds no code: its tests check onnxgen's training-step and
// evaluation graphs, run by ONNX Runtime, against references outside onnxgen.
//
//   - fd_test.go: every parameter's gradient (one step with lr 1, momentum 0,
//     weight decay 0: g = w − w.next) against central finite differences of
//     an independent float64 forward pass (ref_test.go), on architectures
//     covering 1×1, 7×7, 1×7 and 7×1 kernels, strides 2 and 3, zero-padded
//     skips, several outputs concatenated into the head, batch norm, and max
//     pools (2×2 and 3×3, odd sizes whose last rows and columns fill no
//     window, pooled outputs zero-padded into skips and the head);
//     tolerances are stated in the test.
//   - sgd_test.go: two SGD steps (momentum, weight decay, Nesterov, batch norm
//     running statistics) against PyTorch autograd + torch.optim.SGD, run by
//     testdata/torch_step.py with Debian's /usr/bin/python3 in float64:
//     max |w_onnx − w_torch| ≤ 1e-4·max |w_torch − w_init| + 1e-6 per tensor;
//     the cases include max pools on odd sizes, and exact ties in every pool
//     window (where PyTorch routes the gradient to the first maximum in
//     row-major order; routing it to another one fails the check).
//   - checker_test.go: ONNX's checker (full_check) on the graphs.
//   - lm_test.go: one training step of onnxgen's language models (CompileLM:
//     forward, loss, BPTT, global-norm clipping, SGD), in both forms of the
//     recurrence (unrolled, Scan), against testdata/torch_lm.py (the cell
//     written from its definition in torch, autograd, clip_grad_norm_, SGD,
//     float64) for the LSTM, the NASCell and base-4 and base-2 cells,
//     clipping on and off, one and two layers: max |p_onnx − p_torch| ≤
//     1e-4·max |p_torch − p_init| per parameter, loss and carried states to
//     1e-5; the LSTM's h and c also against torch.nn.LSTM with its gates
//     mapped from the leaves. lm_infer_test.go: the one-step inference model
//     (LMInference) fed token by token reproduces the evaluation graph's loss
//     and states. lm_runner_test.go: an LM trained through runner.Train (in
//     a child process: the runner owns ORT's environment) learns a periodic
//     sequence. lm_measure_test.go: graph sizes, session creation and step
//     times of both forms (-v). The LM graphs' ONNX checker run is
//     onnxgen's TestLMChecker.
//
// The time of a training step is measured in package runner
// (BenchmarkTrainStep, BenchmarkTrainStepArch).
//
// The tests need the ONNX Runtime library ($NAS_ORT_LIB, else
// <module root>/.ort/libonnxruntime.so.1: `make ort`) and Debian's
// python3-onnx and python3-torch (`make test-deps`); without them they fail
// and say so. Only tests import onnxruntime_go here, so the rule that only
// runner imports it holds for the code that ships.
package gradcheck
