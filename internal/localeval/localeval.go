package localeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	goruntime "runtime"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/child"
	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// Config configures an Evaluator.
type Config struct {
	// Runtime trains the children. Required.
	Runtime *runner.Runtime
	// Train and Val are the normalised training and validation sets (see
	// LoadData). Required; they are only read.
	Train, Val *dataset.Set
	// Norm is the normalisation the sets were given (LoadData's); it is
	// folded into the trained models, which then take raw pixels.
	Norm dataset.Norm
	// Logger receives a line per trial; nil: discarded.
	Logger *slog.Logger
}

// Evaluator trains children in this process. It implements search.Evaluator.
type Evaluator struct {
	cfg Config
	in  onnxgen.Input
}

var _ search.Evaluator = (*Evaluator)(nil)

// New checks cfg and returns an Evaluator.
func New(cfg Config) (*Evaluator, error) {
	switch {
	case cfg.Runtime == nil:
		return nil, fmt.Errorf("localeval: no runtime")
	case cfg.Train == nil || cfg.Val == nil:
		return nil, fmt.Errorf("localeval: no training or validation set")
	}
	if err := cfg.Train.Validate(); err != nil {
		return nil, fmt.Errorf("localeval: training set: %w", err)
	}
	if err := cfg.Val.Validate(); err != nil {
		return nil, fmt.Errorf("localeval: validation set: %w", err)
	}
	t, v := cfg.Train, cfg.Val
	if t.C != v.C || t.H != v.H || t.W != v.W || t.Classes != v.Classes {
		return nil, fmt.Errorf("localeval: training (%dx%dx%d, %d classes) and validation (%dx%dx%d, %d classes) sets differ",
			t.C, t.H, t.W, t.Classes, v.C, v.H, v.W, v.Classes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Evaluator{cfg: cfg, in: onnxgen.Input{C: t.C, H: t.H, W: t.W}}, nil
}

func failed(status search.Status, reason string, c onnxgen.Cost, t0 time.Time) search.Outcome {
	return search.Outcome{Status: status, Reason: reason, Params: c.Params, FLOPs: c.FLOPs, Seconds: time.Since(t0).Seconds()}
}

// Evaluate trains and scores one trial; see the package doc.
func (e *Evaluator) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	t0 := time.Now()
	co := t.Child.WithDefaults()
	if err := co.Validate(); err != nil {
		return search.Outcome{}, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	classes := e.cfg.Train.Classes
	a, err := onnxgen.Parse(t.Arch)
	if err != nil {
		return failed(search.Failed, err.Error(), onnxgen.Cost{}, t0), nil
	}
	cost, err := a.Cost(e.in, classes, co.BatchNorm)
	if err != nil {
		return failed(search.Failed, err.Error(), onnxgen.Cost{}, t0), nil
	}
	if co.MaxParams > 0 && cost.Params > co.MaxParams {
		return failed(search.Oversized, fmt.Sprintf("%d parameters, more than the limit %d", cost.Params, co.MaxParams), cost, t0), nil
	}
	net, err := BuildChild(a, e.in, classes, co, t.Seed)
	if err != nil {
		return failed(search.Failed, err.Error(), cost, t0), nil
	}
	opts := TrainOptions(co, t.Seed)
	opts.StopBelow = t.StopBelow
	res, err := e.runtime(t.Slots).Train(ctx, net, e.cfg.Train, e.cfg.Val, opts)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return search.Outcome{}, err
		}
		return search.Outcome{}, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	out := search.Outcome{Reason: res.Reason, ValAcc: res.Scores, Params: cost.Params, FLOPs: cost.FLOPs}
	if settle(&out, res.Status, Reward(res.Scores, co.RewardK, co.RewardP)) {
		m, err := InferenceModel(a, e.in, classes, co, res.Params, e.cfg.Norm, WithLabels(map[string]string{}, e.cfg.Train.Labels))
		if err != nil {
			return search.Outcome{}, fmt.Errorf("localeval: trial %d: inference model: %w", t.Index, err)
		}
		if out.Model, err = (proto.MarshalOptions{Deterministic: true}).Marshal(m); err != nil {
			return search.Outcome{}, fmt.Errorf("localeval: trial %d: inference model: %w", t.Index, err)
		}
	}
	out.Seconds = time.Since(t0).Seconds()
	e.cfg.Logger.Debug("trial", "index", t.Index, "status", out.Status.String(), "reward", out.Reward, "seconds", out.Seconds)
	return out, nil
}

// Probe steps: Time trains a child for probeSteps steps and times the
// second half. The first steps of a session run at another speed than the
// epoch's: 2-3 times slower for the very first, and then often faster
// for a while: make search's winner, timed step by step over an epoch
// (batch 32, 2 threads), took 23-24 ms a step over steps 8-39 in two runs
// of three and 27-28 ms from step 100 on, and a probe of steps 8-39
// predicted its final training (batch 64) 18% short (471 s for 557);
// steps 39-99 took 24.7 and 29.1 ms, steps 100-199 27.1 and 27.3 ms (the
// probe's timed half, steps 80-159, was not timed on its own).
const probeSteps = 160

var _ search.Timer = (*Evaluator)(nil)

// Time predicts how long Evaluate takes to train t (search.Timer), from a
// probe: the child built and trained, at t's slots, for probeSteps steps on
// the first training images, then validated once. Each epoch's steps are
// predicted at the rate of the probe's second half; the probe's seconds
// less all its steps at that rate (set-up, the first steps' excess, a
// validation pass) are counted once as fixed and again in every epoch (a
// validation pass and a margin). A child that fails to compile or to train
// is an error.
func (e *Evaluator) Time(ctx context.Context, t search.Trial) (fixed, perEpoch time.Duration, err error) {
	co := t.Child.WithDefaults()
	if err := co.Validate(); err != nil {
		return 0, 0, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	a, err := onnxgen.Parse(t.Arch)
	if err != nil {
		return 0, 0, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	net, err := BuildChild(a, e.in, e.cfg.Train.Classes, co, t.Seed)
	if err != nil {
		return 0, 0, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	train := e.cfg.Train.Len()
	if co.TrainSize > 0 {
		train = min(train, co.TrainSize)
	}
	opts := TrainOptions(co, t.Seed)
	opts.Epochs = 1
	n := min(train, probeSteps*co.Batch)
	skip := n / co.Batch / 2 // the steps before the timed half
	var warm, last time.Time
	var lastBatch int
	opts.Progress = func(p runner.Progress) {
		now := time.Now()
		if p.Batch < skip {
			warm = now
		}
		last, lastBatch = now, p.Batch
	}
	res, err := e.runtime(t.Slots).Train(ctx, net, prefix{e.cfg.Train, n}, e.cfg.Val, opts)
	if err != nil {
		return 0, 0, fmt.Errorf("localeval: trial %d: probe: %w", t.Index, err)
	}
	if res.Status != runner.Done {
		return 0, 0, fmt.Errorf("localeval: trial %d: probe: %v: %s", t.Index, res.Status, res.Reason)
	}
	timed := lastBatch - (skip - 1)
	if skip == 0 || warm.IsZero() || timed <= 0 || !last.After(warm) {
		return 0, 0, fmt.Errorf("localeval: trial %d: probe: too few steps to time (%d images at batch %d)", t.Index, n, co.Batch)
	}
	step := last.Sub(warm) / time.Duration(timed)
	rest := max(0, time.Duration(res.Seconds*float64(time.Second))-time.Duration(lastBatch+1)*step)
	return rest, rest + time.Duration(train/co.Batch)*step, nil
}

// prefix is a Source's first n examples.
type prefix struct {
	runner.Source
	n int
}

func (p prefix) Len() int { return p.n }

// runtime is the Runtime that trains a trial of slots slots
// (search.Trial.Slots): Config.Runtime with slots times its threads, at
// most one per core (but never fewer than its own).
func (e *Evaluator) runtime(slots int) *runner.Runtime {
	rt := e.cfg.Runtime
	n := rt.Threads()
	if slots <= 1 || n == 0 {
		return rt // one slot, or already every core (ONNX Runtime's default)
	}
	return rt.WithThreads(max(n, min(n*slots, goruntime.NumCPU())))
}

// settle sets out's status from the runner's (Done, Stopped, Diverged,
// Oversized; anything else Failed) and, for a child that trained (Done or
// Stopped), its reward; it reports whether the child is Done, so that the
// caller makes its model.
func settle(out *search.Outcome, s runner.Status, reward float64) (done bool) {
	switch s {
	case runner.Done:
		out.Status, out.Reward = search.Done, reward
		return true
	case runner.Stopped:
		out.Status, out.Reward = search.Stopped, reward
	case runner.Diverged:
		out.Status = search.Diverged
	case runner.Oversized:
		out.Status = search.Oversized
	default:
		out.Status = search.Failed
	}
	return false
}

// TrainOptions maps a child's training options to the runner's; an epoch's
// score is its validation accuracy.
func TrainOptions(co search.ChildOptions, seed uint64) runner.TrainOptions {
	return runner.TrainOptions{
		Epochs:      co.Epochs,
		Batch:       co.Batch,
		LR:          float32(co.LR),
		CosineLR:    co.CosineLR,
		Seed:        seed,
		MemoryLimit: co.MemoryLimit,
		Score:       Accuracy,
		ScoreName:   "validation accuracy",
	}
}

// Accuracy is a classifier's accuracy over a pass: correct / examples.
func Accuracy(p runner.Pass) float64 {
	if p.Examples == 0 {
		return 0
	}
	return p.Metrics[onnxgen.MetricRight] / float64(p.Examples)
}

// Reward is the paper's reward of a child's validation accuracies, one per
// epoch: (max accuracy over the last k epochs)^p, over all epochs when there
// are fewer; 0 without any.
func Reward(acc []float64, k int, p float64) float64 {
	if len(acc) == 0 {
		return 0
	}
	k = min(k, len(acc))
	best := 0.0
	for _, a := range acc[len(acc)-k:] {
		best = max(best, a)
	}
	return math.Pow(best, p)
}

// WithLabels adds the class names, when the data set has them, to a
// model's metadata as "nas.labels": a JSON array, logit k's class at k.
func WithLabels(meta map[string]string, labels []string) map[string]string {
	if labels != nil {
		b, _ := json.Marshal(labels) // strings always encode
		meta["nas.labels"] = string(b)
	}
	return meta
}

// InferenceModel is the inference graph of a with the trained params, the
// input normalisation norm folded in (so it takes raw pixels), and the
// metadata in its metadata_props.
func InferenceModel(a onnxgen.Arch, in onnxgen.Input, classes int, co search.ChildOptions, params []onnxgen.Param,
	norm dataset.Norm, metadata map[string]string) (*onnxpb.ModelProto, error) {
	return onnxgen.Compile(a, in, classes, onnxgen.Options{BatchNorm: co.BatchNorm, Params: params,
		InputMean: norm.Mean, InputStd: norm.Std, Metadata: metadata})
}

// BuildChild compiles the child of a (onnxgen.CompileNet): initial
// parameters from seed, the training-step graph with co's optimizer, the
// evaluation graph, and their description.
func BuildChild(a onnxgen.Arch, in onnxgen.Input, classes int, co search.ChildOptions, seed uint64) (child.Net, error) {
	return onnxgen.CompileNet(a, in, classes, onnxgen.TrainOptions{Options: onnxgen.Options{BatchNorm: co.BatchNorm, Seed: seed},
		Momentum: float32(*co.Momentum), WeightDecay: float32(co.WeightDecay), Nesterov: co.Nesterov})
}

// Data is the prepared data of a search or of one training: normalised
// training, validation and test sets, and the normalisation applied (the
// training split's per-channel statistics).
type Data struct {
	Train, Val, Test *dataset.Set
	Norm             dataset.Norm
}

// LoadData loads and prepares the data of a search (see the package doc):
// the data set's training images are split into training and validation
// sets from seed, the training set is cut to co.TrainSize, and every set,
// the test set included, is normalised with the training set's statistics.
func LoadData(root string, co search.ChildOptions, seed uint64) (Data, error) {
	co = co.WithDefaults()
	var d Data
	all, test, err := dataset.Load(co.Dataset, root)
	if err != nil {
		return d, fmt.Errorf("localeval: %w", err)
	}
	vs := co.ValSize
	if vs == 0 {
		vs = min(5000, all.Len()/10)
	}
	if d.Train, d.Val, err = dataset.Split(all, vs, seed); err != nil {
		return d, fmt.Errorf("localeval: %w", err)
	}
	if co.TrainSize > 0 && co.TrainSize < d.Train.Len() {
		if d.Train, err = d.Train.Subset(co.TrainSize, seed^0x5851f42d4c957f2d); err != nil {
			return d, fmt.Errorf("localeval: %w", err)
		}
	}
	d.Test = test
	d.Norm = dataset.Stats(d.Train)
	for _, s := range []*dataset.Set{d.Train, d.Val, d.Test} {
		if err := s.Normalize(d.Norm); err != nil {
			return d, fmt.Errorf("localeval: %s: %w", s.Name, err)
		}
	}
	return d, nil
}
