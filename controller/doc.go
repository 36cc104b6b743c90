// Package controller is the RNN controller of Neural Architecture Search
// with reinforcement learning (Zoph & Le, 2017): a policy that writes
// architecture strings token by token, and the REINFORCE update that makes
// well-rewarded strings likelier.
//
// The package knows the search space only as plain data (Space): a program
// of decision steps for one layer, run for every layer, and the layer
// separator. A step is a Choice among a Decision's tokens, a set of earlier
// layers (Anchors: one binary choice per earlier layer, the skip
// connections), a Chain (no choice: the previous layer) or a Pointer to an
// earlier node (reserved for the cell search; refused today). Layered builds
// the CNN program: every decision in order, then the anchors or the chain. It
// imports neither onnxgen nor runner nor search, and no gorgonia type appears
// in its API.
//
// # Decision vectors
//
// An architecture of L layers is a decision vector (Space.Positions), for
// i = 0 … L−1:
//
//	one entry per Choice step, in step order (e.g. kh, kw, sh, sw, f): the
//	option's index; then, for an Anchors step, one binary entry per earlier
//	layer j = 0 … i−1 ("layer j feeds layer i").
//
// Sample.Choices and Episode.Choices are such vectors; Space.NumChoices(L) is
// their length, L·(Choice steps) + L(L−1)/2 with anchors. Random search and
// evolution (package search) draw and mutate the same vectors. A decision with
// one option (the strides of a space that does not search them) is fixed: it
// has its entry (always 0) and is written, but the policy spends no step on
// it: the controller samples only the decisions with two or more options, so a
// fixed decision changes neither the weights nor the sampled choices.
// Space.Format writes the string: per layer, the chosen tokens in step order,
// then Prefix+j for each chosen input j ascending (a Chain: Prefix+(i−1) for
// layer i > 0), layers joined by LayerSep: "kh3 kw3 sh1 sw1 f36 | kh5 kw5 sh1
// sw1 f48 in0". A layer with no input token takes the image (the language's
// rule). Tokens are emitted as the space spells them (e.g. "sh1" stays), so a
// string is valid but not necessarily canonical: onnxgen.Format canonicalises.
//
// # The policy
//
// A stack of LSTMLayers LSTM layers (Hidden units each; gates i, f, g, o
// with pre-activations [x, h, 1]·W_gate, c' = σ(f)c + σ(i)tanh(g),
// h' = σ(o)tanh(c')) takes one step per softmax decision and, with anchors,
// one anchor step per layer. Step inputs: a learned vector "go" for the
// very first step and for the step after an anchor step; otherwise the
// embedding (Embedding wide, one table per decision) of the option chosen
// at the previous step. A softmax decision d reads the top hidden state h:
// logits = h·W_d + b_d, one head per decision. The anchor step of layer i
// keeps the top hidden state h_i; for j < i,
//
//	P(j feeds i) = σ(vᵀ tanh(W_prev·h_j + W_curr·h_i)).
//
// Every weight is shared across layers, so the depth may change between
// calls (the paper's depth schedule) without losing what was learned. All
// weights start uniform in [−InitRange, InitRange], drawn from a PCG seeded
// by Config.Seed (stream 1); the sampler draws from another PCG (stream 2)
// whose state is part of a checkpoint. σ and softplus are computed exactly
// as gorgonia's float64 kernels compute them (σ saturates beyond ±19…709,
// softplus(x) = x beyond 16), so that the plain-Go sampler and the training
// graph agree to rounding.
//
// Sample draws every choice from the policy; Greedy takes the argmax of
// every softmax and an anchor when P > 1/2; LogProb scores a given choice
// sequence. They run in plain Go (no graph) on the weights the training
// graph binds; one 15-layer architecture takes about 1 ms.
//
// # The update
//
// Update(eps) for M episodes with rewards R_k minimises
//
//	loss = −(1/M) Σ_k (R_k − b) Σ_t log p(a_t) − β (1/M) Σ_k Σ_t H_t
//
// where H_t is the entropy of step t's distribution (β = EntropyWeight; the
// bonus keeps the policy from collapsing onto one architecture) and b the
// baseline: the first batch sets b to its mean reward; each batch uses b as
// it stands, then b ← d·b + (1−d)·mean(R) (d = BaselineDecay, default 0.95).
// The gradient comes from a static, unrolled, batched, teacher-forced
// gorgonia graph (float64) built once per shape (group size, depth) and
// cached: the first update of a new shape pays its construction (1.5 s
// for 8×15 layers), later ones only run it (about 42 ms for 8×15 layers,
// BenchmarkUpdate8). A graph node costs a few µs to run whatever its
// size, so only the recurrence is unrolled step by step: the output heads
// and the anchor logits are computed once over the stacked hidden states
// of all steps, and the weights used at every step (LSTM gates, embedding
// tables, anchor projections) get their gradient as one matrix product
// Xᵀ·∂Y of the stacked step inputs and the output gradients gorgonia
// backpropagates, instead of a product and a sum per step (gemm.go).
// gorgonia's compiler merges two nodes that share a 32-bit hash (it
// numbers values by hash alone), silently when their sizes agree; a graph
// with such a pair is built again with its leaves renamed (graph.go
// compile; by the birthday bound 0.13% of graphs of 1 episode × 4 layers,
// 3,300 nodes, and 1.6% of 8 × 15 layers, 11,900 nodes). Episodes of different depths
// may share a batch: they are grouped by depth (ascending) and the groups'
// gradients summed. The gradient's global L2 norm is clipped to ClipNorm
// (0: no clipping) and Adam (β1 0.9, β2 0.999, ε 1e-8, bias-corrected,
// learning rate LR, default 0.0006) is applied in plain Go, in place. A
// batch is validated before anything changes: a rejected batch, or one
// whose gradient is not finite, leaves the controller as it was (the first
// batch's mean becomes the baseline only when its update is applied).
//
// # Checkpoints
//
// Save writes the whole state: configuration, the sampled layout of the
// space and its fingerprint (the decisions the policy samples, the anchors,
// the prefix and the separator: what shapes the weights; its encoding is that
// of the space type before programs, so older checkpoints still load), weights,
// Adam moments, step count, baseline and the sampler's RNG state.
// Loading and continuing gives exactly the samples and weights of never
// having stopped. The format: magic "NASCTRL\x00", a uint32 version (1), a
// uint64 payload length, the gob-encoded payload and its SHA-256. SaveFile
// is atomic (package internal/atomicfile: temporary file in the same
// directory, fsync, rename, directory fsync).
// Load(r, cfg, sp) needs the configuration (after defaults) and space the
// checkpoint was made with.
//
// # Errors
//
// Every error is prefixed "controller: ". New fails on an invalid Config
// or Space ("controller: config: …", "controller: space: …"). Sample,
// Greedy, LogProb and Update fail on a depth outside [1, MaxLayers], a
// choice sequence of the wrong length or with an option out of range, a
// reward that is not finite, or an empty batch. Load fails with an error
// wrapping ErrCorrupt for a truncated, damaged (checksum) or foreign file,
// and wrapping ErrMismatch for a sound checkpoint of another configuration
// or space. Panics inside gorgonia are recovered at the package boundary
// and returned as "controller: internal error: …".
//
// A Controller is not safe for concurrent use.
package controller
