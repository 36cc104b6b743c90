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
	Attempts          int
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

// predictFinal is the time the final phase still needs: each candidate not
// yet done takes its trial's measured seconds × (final epochs / search
// epochs) × scale (the final's training images per search child's, the
// caller's Config.FinalScale; 0 means 1), and up to Parallel train at once.
// It errs long: a search trial's validation pass and setup scale with it.
func predictFinal(cands []Record, finals map[int]FinalRecord, o Options, scale float64) time.Duration {
	if scale <= 0 {
		scale = 1
	}
	ratio := float64(o.Final.WithDefaults().Epochs) / float64(max(1, o.Child.WithDefaults().Epochs)) * scale
	var total float64
	n := 0
	for _, c := range cands {
		if f, ok := finals[c.Index]; ok && f.Status != Running {
			continue
		}
		total += c.Seconds * ratio
		n++
	}
	if n == 0 {
		return 0
	}
	return time.Duration(total / float64(min(max(1, o.Parallel), n)) * float64(time.Second))
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

// finalReserve is the part of Options.Duration kept for the final phase
// while the search samples: the prediction for the current candidates.
func (r *run) finalReserve() time.Duration {
	if !r.opts.Final.On() || r.opts.Duration <= 0 {
		return 0
	}
	return predictFinal(finalCandidates(r.recs, r.opts.Final.K), r.finals, r.opts, r.cfg.FinalScale)
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
	switch {
	case model == nil && r.finalBest < 0:
		return nil, false, nil
	case model == nil || idx != r.finalBest:
		return nil, false, fmt.Errorf("search: %w: the final model is trial %d's, the final table's best is trial %d", ErrInconsistent, idx, r.finalBest)
	case modelSum(model) != sum:
		bestPath := filepath.Join(r.cfg.Dir, BestFile)
		file, ferr := os.ReadFile(bestPath)
		if ferr != nil || modelSum(file) != sum {
			return nil, false, fmt.Errorf("search: %w: %s: the final model (trial %d) fails its sha256 checksum, and %s does not match it either",
				ErrInconsistent, filepath.Join(r.cfg.Dir, DBFile), idx, bestPath)
		}
		return file, true, nil
	}
	return model, false, nil
}

// skipSampling says whether Run goes straight to the final phase: a resume
// that sets no new budget (Trials, Duration) of a run whose final phase has
// begun. A resume with a budget samples on, then runs the final phase again
// over the new candidates (those already trained are kept).
func (r *run) skipSampling() bool {
	b := r.cfg.Options
	return r.cfg.Resume && len(r.finals) > 0 && b.Trials == 0 && b.Duration == 0
}

// finalPhase trains the candidates not yet trained, up to Parallel at once,
// and keeps the best as the run's model (final_model, then best.onnx).
// Candidates start in rank order; once Options.Duration has elapsed no
// further one starts, except the first of the phase (a run always ends with
// a model): those stay pending for a resume.
func (r *run) finalPhase(ctx context.Context) error {
	if !r.opts.Final.On() {
		return nil
	}
	cands := finalCandidates(r.recs, r.opts.Final.K)
	if len(cands) == 0 {
		r.log.Warn("final training: no trial is done")
		return nil
	}
	var add []FinalRecord
	for rank, c := range cands {
		if _, ok := r.finals[c.Index]; !ok {
			f := FinalRecord{Trial: c.Index, Rank: rank, Arch: c.Arch, Status: Running, Seed: c.Seed, Params: c.Params, FLOPs: c.FLOPs}
			add = append(add, f)
			r.finals[c.Index] = f
		}
	}
	if err := r.st.putFinals(add); err != nil {
		return err
	}
	ev := r.cfg.FinalEvaluator
	if ev == nil {
		ev = r.cfg.Evaluator
	}
	iso, _ := ev.(Isolated)
	isolated := iso != nil && iso.Isolated()
	var todo []FinalRecord
	for _, c := range cands {
		if f := r.finals[c.Index]; f.Status == Running {
			todo = append(todo, f)
		}
	}
	r.log.Info("final training", "candidates", len(cands), "to train", len(todo), "epochs", r.opts.Final.WithDefaults().Epochs)
	child := r.opts.FinalChild()
	type answer struct {
		f   FinalRecord
		out Outcome
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan answer)
	running, started := 0, 0
	var inflight []int
	for len(todo) > 0 || running > 0 {
		for len(todo) > 0 && running < max(1, r.opts.Parallel) && ctx.Err() == nil {
			if started > 0 && r.opts.Duration > 0 && time.Since(r.start) >= r.opts.Duration {
				r.log.Warn("final training: the duration is spent; candidates left pending (nas search --resume trains them)", "pending", len(todo))
				todo = nil
				break
			}
			f := todo[0]
			todo = todo[1:]
			if f.Attempts >= maxAttempts && !isolated {
				f.Status, f.Error = Failed, crashReason
				f.Started, f.Finished = time.Now(), time.Now()
				if err := r.commitFinal(f, nil); err != nil {
					return err
				}
				continue
			}
			f.Attempts++
			f.Started = time.Now()
			if err := r.st.putFinal(f, nil); err != nil {
				return err
			}
			r.finals[f.Trial] = f
			r.hook(&FinalStarted{Final: f, Of: len(cands)})
			running++
			started++
			inflight = append(inflight, f.Trial)
			go func(f FinalRecord) {
				out, err := ev.Evaluate(ctx, Trial{Index: f.Trial, Iteration: -1, Arch: f.Arch, Seed: f.Seed, Child: child})
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
			if err := r.st.releaseFinal(inflight); err != nil {
				return err
			}
			return fmt.Errorf("search: interrupted in the final training: %w", ctx.Err())
		}
		inflight = slices.DeleteFunc(inflight, func(i int) bool { return i == a.f.Trial })
		f := finalOutcome(a.f, a.out, a.err)
		f.Finished = time.Now()
		var model []byte
		if f.Status == Done && (r.finalBest < 0 || betterFinal(f, r.finals[r.finalBest])) {
			model = a.out.Model
			if model == nil {
				model = []byte{}
			}
		}
		if err := r.commitFinal(f, model); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("search: interrupted in the final training: %w", err)
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
