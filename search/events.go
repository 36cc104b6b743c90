package search

import "time"

// Record is one row of the trial table.
type Record struct {
	Index     int
	Iteration int
	Arch      string // canonical
	Layers    int
	Strategy  string
	Status    Status
	// Reward is the reward fed to the strategy: the child's for Done,
	// Options.Penalty for Failed, Diverged and Oversized, the source's for
	// Duplicate.
	Reward float64
	ValAcc []float64
	// Params and FLOPs: the child's size and work, when known.
	Params, FLOPs int64
	Seconds       float64
	// Error says why the trial is not Done (the evaluator's reason, a
	// compile error, or an infrastructure error).
	Error string
	// DupOf is the index of the trial whose outcome a Duplicate reuses;
	// -1 otherwise.
	DupOf int
	Seed  uint64
	// Attempts is how many times the trial was handed to an evaluator
	// (its "running" row written): more than one when a process died
	// while it ran; 0 for a trial that never ran (a duplicate, a rejected
	// proposal).
	Attempts int
	// Worker names the worker process that trained the trial
	// (Outcome.Worker); empty for the search's own process, a trial that
	// never ran, and runs of schema versions before 4.
	Worker string
	// Started and Finished are wall-clock times (UTC).
	Started, Finished time.Time
}

// Event is what a Hook receives: *TrialStarted, *TrialFinished,
// *IterationDone, *BestChanged, or in the final phase *FinalStarted and
// *FinalFinished (final.go).
type Event interface{ event() }

// Hook receives progress events. It is called from the goroutine that runs
// the search (never concurrently), so it must return quickly.
type Hook func(Event)

// TrialStarted: a trial was handed to the evaluator.
type TrialStarted struct{ Trial Trial }

// TrialFinished: a trial's row was committed (any final status). A
// duplicate, or a proposal the space rejects, finishes without starting.
type TrialFinished struct {
	Record Record
	// Done is the number of final trials in the table, this one included.
	Done int
}

// IterationDone: every trial of an iteration is final and the strategy
// observed them (for rl: one controller update, checkpointed).
type IterationDone struct {
	Iteration  int
	Layers     int
	Trials     int     // trials in the iteration
	MeanReward float64 // over the iteration's trials
	// Updated says the controller was updated (rl, complete iteration);
	// Baseline, Loss and Entropy are then the update's statistics.
	Updated                 bool
	Baseline, Loss, Entropy float64
}

// BestChanged: a Done trial beat the best reward so far (ties go to the
// lower index); best.onnx now holds its model.
type BestChanged struct{ Record Record }

func (*TrialStarted) event()  {}
func (*TrialFinished) event() {}
func (*IterationDone) event() {}
func (*BestChanged) event()   {}
