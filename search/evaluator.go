package search

import (
	"context"
	"fmt"
	"time"
)

// Status is the state of a trial, as the trial table records it.
type Status int

const (
	// Running: the trial has started and not ended; a resumed run re-runs it.
	Running Status = iota
	// Done: the child trained; Reward is its reward.
	Done
	// Failed: the architecture did not compile, ONNX Runtime rejected it,
	// or the evaluator returned an error (an infrastructure failure).
	Failed
	// Diverged: a training loss was not finite.
	Diverged
	// Oversized: the child exceeds the memory limit or the parameter cap.
	Oversized
	// Duplicate: an earlier trial evaluated the same canonical
	// architecture; its outcome is reused and nothing is trained.
	Duplicate
	// Stopped: the child's training was stopped early by the median
	// stopping rule (Options.EarlyStop); Reward comes from the epochs that
	// ran. It is not a failure, and never the best model.
	Stopped
)

var statusNames = [...]string{"running", "done", "failed", "diverged", "oversized", "duplicate", "stopped"}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// ParseStatus is the inverse of Status.String.
func ParseStatus(s string) (Status, error) {
	for i, n := range statusNames {
		if n == s {
			return Status(i), nil
		}
	}
	return 0, fmt.Errorf("search: unknown trial status %q", s)
}

// failure reports whether an evaluated outcome counts toward
// Options.MaxFailures and gets the penalty reward.
func (s Status) failure() bool { return s == Failed || s == Diverged || s == Oversized }

// Trial is one architecture to evaluate: everything an evaluator (local or
// remote) needs.
type Trial struct {
	// Index numbers the trials of a run from 0; the trial table's key.
	Index int
	// Iteration is the batch the trial belongs to: trials
	// [Iteration·M, (Iteration+1)·M).
	Iteration int
	// Arch is the canonical architecture string (onnxgen.Format).
	Arch string
	// Seed seeds everything random in the child's training (weight
	// initialisation, shuffling); a function of the run's seed and Index.
	Seed uint64
	// Child says how to train the child.
	Child ChildOptions
	// StopBelow are the early-stopping thresholds (Options.EarlyStop): after
	// epoch e the evaluator stops the child, as Stopped, when its best
	// validation accuracy so far is below StopBelow[e] (0, or past the end:
	// no threshold; the last epoch always completes).
	StopBelow []float64
	// Slots is how many of the evaluator's Parallel child slots the trial
	// may use (0 or 1: one, a trial of the sampling). The phases after the
	// sampling give each of their candidates Parallel / n slots when they
	// train n < Parallel (see batch.slots), so that one final candidate
	// trains with every core rather than leaving the others idle. An
	// in-process evaluator multiplies its intra-op threads by it; the
	// trained bits may differ from a one-slot training (ONNX Runtime's
	// reductions split by thread), so it is fixed by the phase's plan,
	// never by how many candidates are left.
	Slots int
}

// Outcome is what an evaluator reports for a trial.
type Outcome struct {
	// Status is Done, Stopped, Failed, Diverged or Oversized (anything
	// else is recorded as Failed).
	Status Status
	// Reason says why a trial is not Done.
	Reason string
	// Reward is the reward of a Done or Stopped trial (the search
	// replaces it by Options.Penalty for any other status).
	Reward float64
	// ValAcc is the validation accuracy after each epoch.
	ValAcc []float64
	// Params and FLOPs are the child's size and work (onnxgen.Arch.Cost),
	// when known.
	Params, FLOPs int64
	// Seconds is the evaluation's wall time.
	Seconds float64
	// Model is the trained inference model (ONNX, weights included) of a
	// Done trial; nil otherwise. The search keeps the best one as best.onnx
	// (empty when the evaluator returns none).
	Model []byte
	// FetchModel, when Model is nil, fetches the model from where it was
	// trained (internal/dist: the worker keeps it). The search calls it
	// only for a trial that becomes the best so far; an error there
	// records the best model as unavailable (empty, as an evaluator that
	// returns none), logged. Nil: no model beyond Model.
	FetchModel func(ctx context.Context) ([]byte, error) `json:"-"`
	// Worker names the worker process that trained the child, for an
	// evaluator that trains elsewhere (internal/dist); empty: this
	// process. It is recorded in the trial's row.
	Worker string
}

// Evaluator trains and scores children. Evaluate must be safe for
// concurrent use: the search calls it from up to Options.Parallel
// goroutines. An error means an infrastructure failure (the trial is
// recorded as Failed and the search goes on); the child's own failures are
// statuses. A cancelled ctx should make Evaluate return soon with ctx's
// error; the trial then stays "running" and a resumed run re-runs it.
type Evaluator interface {
	Evaluate(ctx context.Context, t Trial) (Outcome, error)
}

// Isolated is implemented by an evaluator whose children train in other
// processes (internal/dist's workers), where a child that exhausts memory
// or crashes ONNX Runtime kills its worker, never the search. Isolated
// returning true turns off the rule for a trial running at two process
// deaths (it would blame trials that were only queued when the search
// died): such an evaluator detects a trial that kills its workers itself.
type Isolated interface {
	Isolated() bool
}

// Timer is implemented by an evaluator that can predict how long it takes
// to train a trial before it does, from a short timed probe of it (the
// in-process evaluator trains its child for 160 steps and
// validates once). The final phase uses it, when its evaluator has it, to
// fit its plan to the time left by each candidate's own measured speed at
// its Trial.Slots, instead of a trial's seconds scaled by the work: that
// scaling cannot know how well a child uses more threads (a small child
// went 1.14 times as fast with 2 threads as with 1 at batch 64, one of 5.6 M
// multiply-adds 1.61 times), nor how much of a short trial was its
// session's set-up. The prediction of t's training is fixed + perEpoch ×
// t.Child.Epochs.
type Timer interface {
	Time(ctx context.Context, t Trial) (fixed, perEpoch time.Duration, err error)
}

// Reconciler is implemented by an evaluator that keeps work outside the
// search's process, across its restarts (internal/dist: a queue of trials
// and a stream of results that outlive a killed search). Run calls
// Reconcile once, after the run is loaded and before the first
// evaluation, with the indices of the trials whose final rows the store
// holds (ascending): what the evaluator kept for those is obsolete. It
// calls Committed after each final row is committed: a result the
// evaluator keeps durable until then (acked only now) survives a search
// killed between Evaluate's return and the commit. An error from
// Reconcile stops Run.
type Reconciler interface {
	Reconcile(ctx context.Context, final []int) error
	Committed(index int)
}

// EvaluatorFunc adapts a function to Evaluator.
type EvaluatorFunc func(ctx context.Context, t Trial) (Outcome, error)

// Evaluate calls f.
func (f EvaluatorFunc) Evaluate(ctx context.Context, t Trial) (Outcome, error) { return f(ctx, t) }
