package search

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nas-project/nas/internal/atomicfile"
)

// FinalTraining configures the search's final phase (the paper's last
// step, inside the search): once the sampling budget is spent, the K best
// distinct architectures are trained again from scratch, longer and on the
// whole training split, and the one with the best validation accuracy is
// the run's model. The zero value (K 0) is off: the run's model is then the
// best trial's, trained as in the search.
type FinalTraining struct {
	// K is the number of candidates: the K Done trials of the highest
	// search reward (lowest index on ties), one per architecture. Zero
	// turns the final phase off.
	K int `json:"k"`
	// Epochs is each candidate's number of training epochs, the learning
	// rate annealed to zero with a half cosine over them. Zero means
	// DefaultFinalEpochs.
	Epochs int `json:"epochs"`
}

// DefaultFinalEpochs is FinalTraining.Epochs' default.
const DefaultFinalEpochs = 10

// On reports whether the final phase runs.
func (f FinalTraining) On() bool { return f.K > 0 }

// WithDefaults returns f with its default resolved (nothing when off).
func (f FinalTraining) WithDefaults() FinalTraining {
	if f.On() && f.Epochs == 0 {
		f.Epochs = DefaultFinalEpochs
	}
	return f
}

// Validate reports a field out of range.
func (f FinalTraining) Validate() error {
	switch {
	case f.K < 0:
		return fmt.Errorf("search: final k %d: want >= 0 (0: no final training)", f.K)
	case f.Epochs < 0:
		return fmt.Errorf("search: final epochs %d: want >= 0", f.Epochs)
	case !f.On() && f.Epochs != 0:
		return fmt.Errorf("search: final epochs %d without final training (k 0)", f.Epochs)
	}
	return nil
}

// FinalChild is how a final candidate is trained: the run's child options
// with FinalTraining.Epochs epochs, the cosine schedule, and the whole
// training split (TrainSize 0; the validation split is the search's, held
// out, so the pick is by validation accuracy and the test split stays
// unseen). These are nas retrain's settings with its grid of one.
func (o Options) FinalChild() ChildOptions {
	c := o.Child.WithDefaults()
	c.Epochs = o.Final.WithDefaults().Epochs
	c.CosineLR = true
	c.TrainSize = 0
	return c
}

// FinalRecord is one row of the final table: a candidate of the final
// phase.
type FinalRecord struct {
	// Trial is the index of the trial whose architecture (and seed) the
	// candidate trains; the table's key.
	Trial int
	// Rank is the candidate's place by search reward when it was chosen
	// (0: the best trial).
	Rank int
	Arch string
	// Status is Running for a candidate not trained yet (Attempts 0:
	// pending) or interrupted, then Done, Failed, Diverged or Oversized.
	Status Status
	// ValAcc is the validation accuracy after each epoch; the candidate's
	// score is the last one's (Accuracy), the accuracy of the model kept.
	ValAcc        []float64
	Params, FLOPs int64
	Seconds       float64
	Error         string
	Seed          uint64
	// Attempts is how many times the candidate was handed to the
	// evaluator (as a trial's).
	Attempts int
	// Epochs is the candidate's training epochs: FinalTraining.Epochs, or
	// fewer when the phase was shrunk to fit the duration (0 in a row of
	// schema version 5: the run's FinalTraining.Epochs).
	Epochs            int
	Started, Finished time.Time
}

// Accuracy is the candidate's score: the validation accuracy of its last
// epoch, the one of the weights its model holds; NaN without any.
func (f FinalRecord) Accuracy() float64 {
	if len(f.ValAcc) == 0 {
		return math.NaN()
	}
	return f.ValAcc[len(f.ValAcc)-1]
}

// FinalStarted: a final candidate was handed to the evaluator.
type FinalStarted struct {
	Final FinalRecord
	// Of is the number of candidates.
	Of int
}

// FinalFinished: a final candidate's row was committed. Chosen says it is
// now the run's model (best.onnx holds it).
type FinalFinished struct {
	Final  FinalRecord
	Chosen bool
}

func (*FinalStarted) event()  {}
func (*FinalFinished) event() {}

// finalCandidates are the final phase's candidates among the trial records:
// the k Done trials of the highest reward (lowest index on ties), the first
// of each architecture.
func finalCandidates(recs []Record, k int) []Record {
	var done []Record
	for _, r := range recs {
		if r.Status == Done {
			done = append(done, r)
		}
	}
	slices.SortFunc(done, func(a, b Record) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	var out []Record
	seen := map[string]bool{}
	for _, r := range done {
		if len(out) == k {
			break
		}
		if !seen[r.Arch] {
			seen[r.Arch] = true
			out = append(out, r)
		}
	}
	return out
}

// betterFinal says whether candidate a beats b: a higher last-epoch
// validation accuracy, then the lower rank, then the lower trial index.
func betterFinal(a, b FinalRecord) bool {
	ea, eb := a.Accuracy(), b.Accuracy()
	switch {
	case ea != eb:
		return ea > eb
	case a.Rank != b.Rank:
		return a.Rank < b.Rank
	}
	return a.Trial < b.Trial
}

// chosenFinal is the trial index of the best Done candidate (betterFinal),
// or -1.
func chosenFinal(finals map[int]FinalRecord) int {
	best := -1
	for i, f := range finals {
		if f.Status == Done && !math.IsNaN(f.Accuracy()) && (best < 0 || betterFinal(f, finals[best])) {
			best = i
		}
	}
	return best
}

// finalOutcome is the row of a trained candidate, given the evaluator's
// outcome and error: an error is Failed with its text; Done with at least
// one validation accuracy is Done; Diverged, Oversized and Failed keep
// their status and reason; anything else is Failed.
func finalOutcome(f FinalRecord, out Outcome, evalErr error) FinalRecord {
	f.ValAcc, f.Params, f.FLOPs, f.Seconds = out.ValAcc, out.Params, out.FLOPs, out.Seconds
	switch {
	case evalErr != nil:
		f.Status, f.Error = Failed, evalErr.Error()
	case out.Status == Done && len(out.ValAcc) > 0 && finite(f.Accuracy()):
		f.Status, f.Error = Done, ""
	case out.Status == Diverged || out.Status == Oversized || out.Status == Failed:
		f.Status, f.Error = out.Status, out.Reason
	default:
		f.Status, f.Error = Failed, fmt.Sprintf("evaluator returned status %v with %d validation accuracies: %s", out.Status, len(out.ValAcc), out.Reason)
	}
	return f
}

// loadFinal reads the final table and checks the stored final model
// against it (the chosen candidate's, its checksum; a damaged blob is taken
// from best.onnx when that matches). It returns the model best.onnx must
// hold (nil: none) and whether it was restored.
func (r *run) loadFinal() (model []byte, restored bool, err error) {
	recs, err := r.st.finalRecords()
	if err != nil {
		return nil, false, err
	}
	r.finals = map[int]FinalRecord{}
	for _, f := range recs {
		r.finals[f.Trial] = f
	}
	r.finalBest = chosenFinal(r.finals)
	idx, model, sum, err := r.st.finalModel()
	if err != nil {
		return nil, false, err
	}
	return r.verifyModel("the final model", idx, r.finalBest, model, sum, true)
}

// verifyModel checks a stored model (the final model, the rungs' top
// model) against the table's pick want (-1: none): the row is the pick's
// and the bytes match their checksum; a damaged blob is taken from
// best.onnx when that is its copy (copied) and matches. It returns the
// model (nil: none) and whether it was restored.
func (r *run) verifyModel(what string, idx, want int, model []byte, sum string, copied bool) ([]byte, bool, error) {
	switch {
	case model == nil && want < 0:
		return nil, false, nil
	case model == nil || idx != want:
		return nil, false, fmt.Errorf("search: %w: %s is trial %d's, the table's best is trial %d", ErrInconsistent, what, idx, want)
	case modelSum(model) != sum:
		bestPath := filepath.Join(r.cfg.Dir, BestFile)
		file, ferr := os.ReadFile(bestPath)
		if !copied || ferr != nil || modelSum(file) != sum {
			return nil, false, fmt.Errorf("search: %w: %s: %s (trial %d) fails its sha256 checksum, and %s does not match it either",
				ErrInconsistent, filepath.Join(r.cfg.Dir, DBFile), what, idx, bestPath)
		}
		return file, true, nil
	}
	return model, false, nil
}

// skipSampling says whether Run goes straight to the phases after the
// sampling: a resume that sets no new budget (Trials, Duration) of a run
// whose rungs or final phase have begun. A resume with a budget samples
// on, then runs the rungs and the final phase again over the new
// candidates (those already trained are kept).
func (r *run) skipSampling() bool {
	b := r.cfg.Options
	return r.cfg.Resume && (len(r.finals) > 0 || len(r.rungs) > 0) && b.Trials == 0 && b.Duration == 0
}

// finalPhase trains the candidates not yet trained, up to Parallel at once,
// and keeps the best as the run's model (final_model, then best.onnx).
// The candidates are the first K of fidelityRanking (the highest rung's
// best first), fewer or with fewer epochs when the time left is too short
// (fit); a resume without a new budget trains the rows there are. They
// start in rank order; once Options.Duration has elapsed no further one
// starts, except the first of the phase (a run always ends with a model):
// those stay pending for a resume.
func (r *run) finalPhase(ctx context.Context) error {
	if !r.opts.Final.On() {
		return nil
	}
	k, epochs := r.opts.Final.K, r.opts.Final.WithDefaults().Epochs
	ev := r.cfg.FinalEvaluator
	if ev == nil {
		ev = r.cfg.Evaluator
	}
	var cands []FinalRecord
	if r.skipSampling() && len(r.finals) > 0 {
		cands = r.finalList()
	} else {
		if t, ok := ev.(Timer); ok && r.opts.Duration > 0 {
			r.timed = r.finalTimer(ctx, t)
			defer func() { r.timed = nil }()
		}
		if p := r.fit(r.opts.Rungs.Count + 1); p.k != k || p.epochs != epochs {
			note := fmt.Sprintf("final training shrunk to fit the %s left: k %d -> %d, epochs %d -> %d (predicted %s)",
				r.left().Round(time.Second), k, p.k, epochs, p.epochs, r.predict(p, r.opts.Rungs.Count+1, false).Round(time.Second))
			r.log.Warn(note)
			r.hook(&Shrunk{Note: note})
			k, epochs = p.k, p.epochs
		}
		ranking := fidelityRanking(r.recs, r.rungs)
		for rank, c := range ranking[:min(k, len(ranking))] {
			f, ok := r.finals[c.Index]
			if !ok {
				f = FinalRecord{Trial: c.Index, Rank: rank, Arch: c.Arch, Status: Running, Seed: c.Seed, Params: c.Params, FLOPs: c.FLOPs, Epochs: epochs}
			}
			cands = append(cands, f)
		}
	}
	if len(cands) == 0 {
		r.log.Warn("final training: no trial is done")
		return nil
	}
	var add, todo []FinalRecord
	for _, f := range cands {
		if _, ok := r.finals[f.Trial]; !ok {
			add = append(add, f)
			r.finals[f.Trial] = f
		}
		if f.Status == Running {
			todo = append(todo, f)
		}
	}
	if err := r.st.putFinals(add); err != nil {
		return err
	}
	r.log.Info("final training", "candidates", len(cands), "to train", len(todo), "epochs", epochs)
	return r.trainBatch(ctx, batch{
		what: "final training", todo: todo, ev: ev, first: true, slots: phaseSlots(r.opts.Parallel, len(cands)),
		child: func(f FinalRecord) ChildOptions {
			c := r.opts.FinalChild()
			if f.Epochs > 0 { // 0: a row of version 5, trained with the run's epochs
				c.Epochs = f.Epochs
			}
			return c
		},
		put: func(f FinalRecord) error {
			r.finals[f.Trial] = f
			return r.st.putFinal(f, nil)
		},
		started: func(f FinalRecord) { r.hook(&FinalStarted{Final: f, Of: len(cands)}) },
		release: r.st.releaseFinal,
		finish: func(f FinalRecord, out Outcome) error {
			var model []byte
			if f.Status == Done && (r.finalBest < 0 || betterFinal(f, r.finals[r.finalBest])) {
				model = out.Model
				if model == nil {
					model = []byte{}
				}
			}
			return r.commitFinal(f, model)
		},
	})
}

// finalTimer is r.timed for a final evaluator that is a Timer: each
// candidate (a Done trial's architecture and seed, the final child
// options) probed once per slot count and remembered; a failed probe is
// logged and makes the prediction fall back to the trials' seconds.
func (r *run) finalTimer(ctx context.Context, t Timer) func(trial, slots int) (timing, bool) {
	type key struct{ trial, slots int }
	seen := map[key]timing{}
	failed := false
	return func(trial, slots int) (timing, bool) {
		if failed {
			return timing{}, false
		}
		k := key{trial, slots}
		if d, ok := seen[k]; ok {
			return d, true
		}
		c := r.recs[trial]
		fixed, perEpoch, err := t.Time(ctx, Trial{Index: trial, Iteration: -1, Arch: c.Arch, Seed: c.Seed, Child: r.opts.FinalChild(), Slots: slots})
		if err != nil {
			r.log.Warn("final training: timing a candidate failed; predicting from the trials' seconds", "trial", trial, "error", err)
			failed = true
			return timing{}, false
		}
		d := timing{fixed, perEpoch}
		r.log.Info("final training: candidate timed", "trial", trial, "slots", slots, "fixed", fixed.Round(time.Millisecond), "per_epoch", perEpoch.Round(time.Millisecond))
		seen[k] = d
		return d, true
	}
}

// batch is one phase's candidates to train (a rung's, the final's) and
// what the phase does with them.
type batch struct {
	what string // "final training", "rung 2": in the log and errors
	todo []FinalRecord
	ev   Evaluator
	// first: the phase's first candidate starts even once the duration
	// has elapsed (a run always ends with a model).
	first bool
	// slots is each candidate's Trial.Slots: phaseSlots of the phase's
	// candidates (all of them, trained or not, so that a resume trains a
	// candidate as the uninterrupted run does).
	slots int
	// child is the training of a candidate.
	child func(FinalRecord) ChildOptions
	// put writes a candidate's running row (its attempts counted).
	put func(FinalRecord) error
	// started reports a candidate handed to the evaluator.
	started func(FinalRecord)
	// release gives back the attempts of cancelled candidates.
	release func(trials []int) error
	// finish commits a trained candidate (its row from finalOutcome).
	finish func(FinalRecord, Outcome) error
}

// trainBatch trains b's candidates up to Parallel at once, in order, by
// the rule of the trials: a candidate running twice when the process died
// is recorded Failed (unless the evaluator is Isolated); a cancelled one
// gives its attempt back and stays running. Once Options.Duration has
// elapsed no further candidate starts (but the first when b.first): those
// stay pending for a resume.
func (r *run) trainBatch(ctx context.Context, b batch) error {
	iso, _ := b.ev.(Isolated)
	isolated := iso != nil && iso.Isolated()
	type answer struct {
		f   FinalRecord
		out Outcome
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan answer)
	todo := b.todo
	running, started := 0, 0
	var inflight []int
	for len(todo) > 0 || running > 0 {
		for len(todo) > 0 && running < max(1, r.opts.Parallel) && ctx.Err() == nil {
			if (started > 0 || !b.first) && r.opts.Duration > 0 && time.Since(r.start) >= r.opts.Duration {
				r.log.Warn(b.what+": the duration is spent; candidates left pending (nas search --resume trains them)", "pending", len(todo))
				todo = nil
				break
			}
			f := todo[0]
			todo = todo[1:]
			if f.Attempts >= maxAttempts && !isolated {
				f.Status, f.Error = Failed, crashReason
				f.Started, f.Finished = time.Now(), time.Now()
				if err := b.finish(f, Outcome{}); err != nil {
					return err
				}
				continue
			}
			f.Attempts++
			f.Started = time.Now()
			if err := b.put(f); err != nil {
				return err
			}
			b.started(f)
			running++
			started++
			inflight = append(inflight, f.Trial)
			go func(f FinalRecord) {
				out, err := b.ev.Evaluate(ctx, Trial{Index: f.Trial, Iteration: -1, Arch: f.Arch, Seed: f.Seed, Child: b.child(f), Slots: b.slots})
				if out.Seconds == 0 {
					out.Seconds = time.Since(f.Started).Seconds()
				}
				results <- answer{f, out, err}
			}(f)
		}
		if running == 0 {
			break
		}
		a := <-results
		running--
		if ctx.Err() != nil {
			for running > 0 {
				<-results
				running--
			}
			if err := b.release(inflight); err != nil {
				return err
			}
			return fmt.Errorf("search: interrupted in the %s: %w", b.what, ctx.Err())
		}
		inflight = slices.DeleteFunc(inflight, func(i int) bool { return i == a.f.Trial })
		f := finalOutcome(a.f, a.out, a.err)
		f.Finished = time.Now()
		if err := b.finish(f, a.out); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("search: interrupted in the %s: %w", b.what, err)
	}
	return nil
}

// commitFinal writes a candidate's final row (with a new chosen model, in
// the same transaction, then best.onnx), records it and reports it.
func (r *run) commitFinal(f FinalRecord, model []byte) error {
	if err := r.st.putFinal(f, model); err != nil {
		return err
	}
	r.finals[f.Trial] = f
	if model != nil {
		r.finalBest = f.Trial
		if err := atomicfile.Write(filepath.Join(r.cfg.Dir, BestFile), model); err != nil {
			return fmt.Errorf("search: write %s: %w", BestFile, err)
		}
	}
	r.log.Info("final candidate", "trial", f.Trial, "status", f.Status.String(), "val_acc", f.Accuracy(), "chosen", model != nil)
	r.hook(&FinalFinished{Final: f, Chosen: model != nil})
	return nil
}

// finalList is the final table by rank, then trial.
func (r *run) finalList() []FinalRecord {
	var out []FinalRecord
	for _, f := range r.finals {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b FinalRecord) int {
		if a.Rank != b.Rank {
			return a.Rank - b.Rank
		}
		return a.Trial - b.Trial
	})
	return out
}
