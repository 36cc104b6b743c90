package runner

import (
	"fmt"
	"math"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// Epochs is the number of passes over the training set (> 0).
	Epochs int
	// Batch is the training batch size (> 0, at most the training set's
	// size). The last partial batch of each epoch is dropped.
	Batch int
	// EvalBatch is the batch size of validation. Zero: Batch.
	EvalBatch int
	// LR is the learning rate (> 0), fed to the child's learning-rate input
	// (child.Net.LR).
	LR float32
	// CosineLR anneals the learning rate from LR to zero with a half cosine
	// over all steps. Zero (false): LR is constant.
	CosineLR bool
	// Seed drives the shuffling of every epoch. Zero is a seed like any other.
	Seed uint64
	// MemoryLimit refuses, as Oversized, a child whose EstimateMemory exceeds
	// it, before any session is created. Zero: no limit.
	MemoryLimit int64
	// Progress, if set, is called after every training batch.
	Progress func(Progress)
	// Score turns an epoch's validation pass into its score (a
	// classifier's accuracy: correct / examples); Result.Scores has one per
	// epoch. Nil: no scores (StopBelow then needs one).
	Score func(Pass) float64
	// ScoreName names the score in a Stopped trial's reason (e.g.
	// "validation accuracy"). Empty: "validation score".
	ScoreName string
	// StopBelow stops training early (status Stopped) after epoch e when
	// the best score so far is below StopBelow[e] (the median stopping
	// rule's threshold; search computes it). Zero, or an epoch past its
	// end, sets no threshold; the last epoch is never cut.
	StopBelow []float64
}

// Progress reports one training batch.
type Progress struct {
	Epoch, Batch   int     // from 0
	Batches        int     // batches per epoch
	Loss           float32 // this batch's first Finite metric (the loss); NaN without one
	ExamplesPerSec float64 // training throughput of this epoch so far
}

// Validate reports the first invalid field of o.
func (o TrainOptions) Validate() error {
	switch {
	case o.Epochs <= 0:
		return fmt.Errorf("runner: train options: epochs %d: want > 0", o.Epochs)
	case o.Batch <= 0:
		return fmt.Errorf("runner: train options: batch %d: want > 0", o.Batch)
	case o.EvalBatch < 0:
		return fmt.Errorf("runner: train options: eval batch %d: want >= 0", o.EvalBatch)
	case !(o.LR > 0) || math.IsInf(float64(o.LR), 0):
		return fmt.Errorf("runner: train options: lr %v: want a finite value > 0", o.LR)
	case o.MemoryLimit < 0:
		return fmt.Errorf("runner: train options: memory limit %d: want >= 0", o.MemoryLimit)
	}
	for e, v := range o.StopBelow {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("runner: train options: stop threshold %v after epoch %d: want a finite score", v, e+1)
		}
	}
	if len(o.StopBelow) > 0 && o.Score == nil {
		return fmt.Errorf("runner: train options: stop thresholds without a Score")
	}
	return nil
}

func (o TrainOptions) withDefaults() TrainOptions {
	if o.EvalBatch == 0 {
		o.EvalBatch = o.Batch
	}
	if o.ScoreName == "" {
		o.ScoreName = "validation score"
	}
	return o
}

// Status is how a training trial ended.
type Status int

const (
	// Done: every epoch ran; Result has the passes, scores and weights.
	Done Status = iota
	// Diverged: a Finite metric (the loss) was NaN or infinite.
	Diverged
	// Oversized: EstimateMemory exceeded TrainOptions.MemoryLimit; nothing ran.
	Oversized
	// Failed: ONNX Runtime rejected a graph or a run failed; Reason holds
	// its message.
	Failed
	// Stopped: training stopped early (TrainOptions.StopBelow); Val and
	// Scores have the epochs that ran.
	Stopped
)

func (s Status) String() string {
	switch s {
	case Done:
		return "done"
	case Diverged:
		return "diverged"
	case Oversized:
		return "oversized"
	case Failed:
		return "failed"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of Train.
type Result struct {
	Status Status
	Reason string // why the trial is not Done; empty when Done
	// Val has the validation pass after each completed epoch, Scores their
	// scores (TrainOptions.Score).
	Val    []Pass
	Scores []float64
	// Params are the trained weights (Done only).
	Params []Param
	// Seconds is the wall time of Train; ExamplesPerSec the training
	// throughput (training steps only, validation excluded).
	Seconds        float64
	ExamplesPerSec float64
	// StepSeconds is the time inside the session runs of the training
	// steps (Done only): Seconds less it is what a child costs besides its
	// steps (sessions, data copies, validation).
	StepSeconds float64
	// StepsPerRun is the number of training steps a session run made
	// (Config.StepsPerRun; 1: the child's single-step training graph);
	// zero when Train returned before training (Oversized, Failed).
	StepsPerRun int
}
