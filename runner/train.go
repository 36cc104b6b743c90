package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nas-project/nas/internal/child"
	ort "github.com/yalue/onnxruntime_go"
)

// Train trains n on train for opts.Epochs epochs (the update is inside the
// training graph), measures the evaluation graph's metrics on val after
// every epoch and scores them with opts.Score. See the package doc for the
// statuses and errors.
func (rt *Runtime) Train(ctx context.Context, n child.Net, train, val Source, opts TrainOptions) (Result, error) {
	t0 := time.Now()
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	if err := n.Validate(); err != nil {
		return Result{}, fmt.Errorf("runner: %w", err)
	}
	if err := checkSource("training", train); err != nil {
		return Result{}, err
	}
	if err := checkSource("validation", val); err != nil {
		return Result{}, err
	}
	if opts.Batch > train.Len() {
		return Result{}, fmt.Errorf("runner: batch %d exceeds the %d training examples", opts.Batch, train.Len())
	}
	if opts.MemoryLimit > 0 {
		if need := EstimateMemory(n, opts.Batch); need > opts.MemoryLimit {
			return Result{Status: Oversized, Reason: fmt.Sprintf(
				"needs about %d MiB (estimate) at batch %d, over the limit of %d MiB",
				need>>20, opts.Batch, opts.MemoryLimit>>20), Seconds: time.Since(t0).Seconds()}, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	failed := func(format string, args ...any) (Result, error) {
		return Result{Status: Failed, Reason: fmt.Sprintf(format, args...), Seconds: time.Since(t0).Seconds()}, nil
	}
	diverged := func(res Result, format string, args ...any) (Result, error) {
		res.Status, res.Reason = Diverged, fmt.Sprintf(format, args...)
		res.Seconds = time.Since(t0).Seconds()
		return res, nil
	}

	batches := train.Len() / opts.Batch // the last partial batch is dropped
	loop, steps := rt.stepsPerRun(n, batches)
	tr, err := rt.newTrainer(n, opts.Batch, loop, steps, batches%steps)
	if err != nil {
		return failed("%v", err)
	}
	defer tr.close()
	ev, err := rt.newEvaluator(n, tr.paramSets(), val.Len(), opts.EvalBatch)
	if err != nil {
		return failed("%v", err)
	}
	defer ev.close()

	res := Result{StepsPerRun: steps}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6e6173)) // "nas"
	perm := make([]int, train.Len())
	for i := range perm {
		perm[i] = i
	}
	total := float64(opts.Epochs * batches)
	var trainTime, stepTime time.Duration
	for epoch := range opts.Epochs {
		if n.Sequential {
			tr.resetState()
		} else {
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		start := time.Now()
		for b0 := 0; b0 < batches; b0 += steps {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			r := tr.group(min(steps, batches-b0))
			for k := range r.steps {
				b := b0 + k
				lr := opts.LR
				if opts.CosineLR {
					lr = float32(float64(opts.LR) * 0.5 * (1 + math.Cos(math.Pi*float64(epoch*batches+b)/total)))
				}
				if r.lr != nil {
					r.lr[k] = lr
				}
				train.Fill(perm[b*opts.Batch:(b+1)*opts.Batch], r.batch.rows[k])
			}
			t := time.Now()
			err := tr.run(r)
			stepTime += time.Since(t)
			if err != nil {
				if r.steps > 1 {
					return failed("epoch %d batches %d-%d: %v", epoch, b0, b0+r.steps-1, err)
				}
				return failed("epoch %d batch %d: %v", epoch, b0, err)
			}
			for k := range r.steps {
				b := b0 + k
				loss := float32(math.NaN())
				for j, m := range n.Metrics {
					if !m.Finite {
						continue
					}
					v := r.metrics.at(j, k)
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return diverged(res, "epoch %d batch %d: %s %v", epoch, b, m.Name, float32(v))
					}
					if math.IsNaN(float64(loss)) {
						loss = float32(v)
					}
				}
				if opts.Progress != nil {
					el := time.Since(start).Seconds()
					opts.Progress(Progress{Epoch: epoch, Batch: b, Batches: batches, Loss: loss,
						ExamplesPerSec: float64((b+1)*opts.Batch) / el})
				}
			}
		}
		trainTime += time.Since(start)
		pass, err := ev.run(ctx, val, tr.cur)
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if err != nil {
			return failed("epoch %d: validation: %v", epoch, err)
		}
		for _, m := range n.Metrics {
			if v := pass.Metrics[m.Name]; m.Finite && (math.IsNaN(v) || math.IsInf(v, 0)) {
				return diverged(res, "epoch %d: validation %s %v", epoch, m.Name, v)
			}
		}
		res.Val = append(res.Val, pass)
		if opts.Score != nil {
			res.Scores = append(res.Scores, opts.Score(pass))
		}
		rt.log.Debug("runner: epoch", "epoch", epoch, "metrics", pass.Metrics)
		if epoch < opts.Epochs-1 && epoch < len(opts.StopBelow) {
			if best := slices.Max(res.Scores); best < opts.StopBelow[epoch] {
				res.Status, res.Reason = Stopped, fmt.Sprintf("stopped after epoch %d of %d: best %s %.4f below the threshold %.4f",
					epoch+1, opts.Epochs, opts.ScoreName, best, opts.StopBelow[epoch])
				res.Seconds = time.Since(t0).Seconds()
				return res, nil
			}
		}
	}
	res.Status = Done
	res.Params = tr.weights()
	res.Seconds = time.Since(t0).Seconds()
	res.StepSeconds = stepTime.Seconds()
	if trainTime > 0 {
		res.ExamplesPerSec = total * float64(opts.Batch) / trainTime.Seconds()
	}
	return res, nil
}

// Evaluate runs n's evaluation graph with params (in n.Params' order and
// shapes) over every example of src, in batches of batch (the last one
// smaller when needed), and returns the pass's metrics.
func (rt *Runtime) Evaluate(ctx context.Context, n child.Net, params []Param, src Source, batch int) (Pass, error) {
	if err := child.ValidateParams(params); err != nil {
		return Pass{}, fmt.Errorf("runner: %w", err)
	}
	if len(params) != len(n.Params) {
		return Pass{}, fmt.Errorf("runner: evaluate: %d parameters, the child has %d", len(params), len(n.Params))
	}
	for i, p := range params {
		if w := n.Params[i]; p.Name != w.Name || !slices.Equal(p.Shape, w.Shape) {
			return Pass{}, fmt.Errorf("runner: evaluate: parameter %d is %s %v, the child's is %s %v", i, p.Name, p.Shape, w.Name, w.Shape)
		}
	}
	if err := checkSource("evaluation", src); err != nil {
		return Pass{}, err
	}
	if batch <= 0 {
		return Pass{}, fmt.Errorf("runner: evaluate: batch %d: want > 0", batch)
	}
	if err := ctx.Err(); err != nil {
		return Pass{}, err
	}
	var o owner
	defer o.destroy()
	var ws []*ort.Tensor[float32]
	for _, p := range params {
		t, err := newTensor(&o, p.Data, p.Shape...)
		if err != nil {
			return Pass{}, fmt.Errorf("runner: evaluate: param %s: %w", p.Name, err)
		}
		ws = append(ws, t)
	}
	ev, err := rt.newEvaluator(n, [][]*ort.Tensor[float32]{ws}, src.Len(), batch)
	if err != nil {
		return Pass{}, fmt.Errorf("runner: evaluate: %w", err)
	}
	defer ev.close()
	pass, err := ev.run(ctx, src, 0)
	if ctx.Err() != nil {
		return Pass{}, ctx.Err()
	}
	if err != nil {
		return Pass{}, fmt.Errorf("runner: evaluate: %w", err)
	}
	return pass, nil
}

func checkSource(what string, src Source) error {
	if src == nil {
		return fmt.Errorf("runner: %s data: none", what)
	}
	if src.Len() <= 0 {
		return fmt.Errorf("runner: %s data: empty", what)
	}
	return nil
}

// stepsPerRun says whether n trains through its K-step graph and how many
// steps one run makes (Config.StepsPerRun, at most an epoch's batches): one
// step of the training graph when Config.StepsPerRun is 1 or n has no
// K-step graph.
func (rt *Runtime) stepsPerRun(n child.Net, batches int) (loop bool, steps int) {
	if len(n.Steps.Model) == 0 || (rt.steps <= 1 && !rt.loop) {
		return false, 1
	}
	return true, max(1, min(rt.steps, batches))
}
