package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nas-project/nas/internal/dataset"
	ort "github.com/yalue/onnxruntime_go"
)

// Train trains child c on train for opts.Epochs epochs with SGD (the update is
// inside c.Train), measures the validation accuracy on val after every epoch
// and computes the reward. See the package doc for the statuses and errors.
func (rt *Runtime) Train(ctx context.Context, c Child, train, val *dataset.Set, opts TrainOptions) (Result, error) {
	t0 := time.Now()
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if err := checkSet("training", train); err != nil {
		return Result{}, err
	}
	if err := checkSet("validation", val); err != nil {
		return Result{}, err
	}
	if train.C != val.C || train.H != val.H || train.W != val.W || train.Classes != val.Classes {
		return Result{}, fmt.Errorf("runner: training set %dx%dx%d/%d classes and validation set %dx%dx%d/%d classes differ",
			train.C, train.H, train.W, train.Classes, val.C, val.H, val.W, val.Classes)
	}
	if opts.Batch > train.Len() {
		return Result{}, fmt.Errorf("runner: batch %d exceeds the %d training images", opts.Batch, train.Len())
	}
	if opts.MemoryLimit > 0 {
		if need := EstimateMemory(c, opts.Batch, train.C*train.H*train.W); need > opts.MemoryLimit {
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

	tr, err := rt.newTrainer(c, opts.Batch, train.C, train.H, train.W)
	if err != nil {
		return failed("%v", err)
	}
	defer tr.close()
	ev, err := rt.newEvaluator(c.Eval, c.Params, [][]*ort.Tensor[float32]{tr.params[0], tr.params[1]}, val, opts.EvalBatch)
	if err != nil {
		return failed("%v", err)
	}
	defer ev.close()

	res := Result{}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6e6173)) // "nas"
	perm := make([]int, train.Len())
	for i := range perm {
		perm[i] = i
	}
	batches := train.Len() / opts.Batch // the last partial batch is dropped
	total := float64(opts.Epochs * batches)
	var trainTime time.Duration
	for epoch := range opts.Epochs {
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		start := time.Now()
		for b := range batches {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			lr := opts.LR
			if opts.CosineLR {
				lr = float32(float64(opts.LR) * 0.5 * (1 + math.Cos(math.Pi*float64(epoch*batches+b)/total)))
			}
			tr.fill(train, perm[b*opts.Batch:(b+1)*opts.Batch])
			loss, _, err := tr.step(lr)
			if err != nil {
				return failed("epoch %d batch %d: %v", epoch, b, err)
			}
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				res.Status, res.Reason = Diverged, fmt.Sprintf("epoch %d batch %d: loss %v", epoch, b, loss)
				res.Seconds = time.Since(t0).Seconds()
				return res, nil
			}
			if opts.Progress != nil {
				el := time.Since(start).Seconds()
				opts.Progress(Progress{Epoch: epoch, Batch: b, Batches: batches, Loss: loss,
					ImagesPerSec: float64((b+1)*opts.Batch) / el})
			}
		}
		trainTime += time.Since(start)
		acc, vloss, err := ev.run(ctx, val, tr.cur)
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if err != nil {
			return failed("epoch %d: validation: %v", epoch, err)
		}
		if math.IsNaN(vloss) || math.IsInf(vloss, 0) {
			res.Status, res.Reason = Diverged, fmt.Sprintf("epoch %d: validation loss %v", epoch, vloss)
			res.Seconds = time.Since(t0).Seconds()
			return res, nil
		}
		res.ValAcc = append(res.ValAcc, acc)
		res.ValLoss = append(res.ValLoss, vloss)
		rt.log.Debug("runner: epoch", "epoch", epoch, "val_acc", acc, "val_loss", vloss)
		if epoch < opts.Epochs-1 && epoch < len(opts.StopBelow) {
			if best := slices.Max(res.ValAcc); best < opts.StopBelow[epoch] {
				res.Status, res.Reason = Stopped, fmt.Sprintf("stopped after epoch %d of %d: best validation accuracy %.4f below the threshold %.4f",
					epoch+1, opts.Epochs, best, opts.StopBelow[epoch])
				res.Reward = reward(res.ValAcc, opts.RewardK, opts.RewardP)
				res.Seconds = time.Since(t0).Seconds()
				return res, nil
			}
		}
	}
	res.Status = Done
	res.Reward = reward(res.ValAcc, opts.RewardK, opts.RewardP)
	res.Params = make([]Param, len(c.Params))
	for i, p := range c.Params {
		res.Params[i] = Param{Name: p.Name, Shape: append([]int64(nil), p.Shape...),
			Data: append([]float32(nil), tr.weights()[i].GetData()...)}
	}
	res.Seconds = time.Since(t0).Seconds()
	if trainTime > 0 {
		res.ImagesPerSec = total * float64(opts.Batch) / trainTime.Seconds()
	}
	return res, nil
}

// Evaluate runs an evaluation graph (inputs "image", "label", then params in
// order; outputs "loss", "correct") over every image of set, in batches of
// batch (the last one smaller when needed), and returns the accuracy and the
// mean loss.
func (rt *Runtime) Evaluate(ctx context.Context, eval []byte, params []Param, set *dataset.Set, batch int) (acc, loss float64, err error) {
	if err := validateParams(params); err != nil {
		return 0, 0, err
	}
	if err := checkSet("evaluation", set); err != nil {
		return 0, 0, err
	}
	if batch <= 0 {
		return 0, 0, fmt.Errorf("runner: evaluate: batch %d: want > 0", batch)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	var o owner
	defer o.destroy()
	var ws []*ort.Tensor[float32]
	for _, p := range params {
		t, err := newTensor(&o, p.Data, p.Shape...)
		if err != nil {
			return 0, 0, fmt.Errorf("runner: evaluate: param %s: %w", p.Name, err)
		}
		ws = append(ws, t)
	}
	ev, err := rt.newEvaluator(eval, params, [][]*ort.Tensor[float32]{ws}, set, batch)
	if err != nil {
		return 0, 0, fmt.Errorf("runner: evaluate: %w", err)
	}
	defer ev.close()
	acc, loss, err = ev.run(ctx, set, 0)
	if ctx.Err() != nil {
		return 0, 0, ctx.Err()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("runner: evaluate: %w", err)
	}
	return acc, loss, nil
}
