package search

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/nas-project/nas/internal/atomicfile"
)

// MultiFidelity configures successive halving (Li et al.'s Hyperband
// bracket of one) after the sampling: the search's trials are rung 0, each
// judged cheaply with the run's child options; rung r = 1 … Count trains
// the best of rung r−1 again, from scratch, η^r times as long. The zero
// value (Count 0) is off.
type MultiFidelity struct {
	// Count is the number of rungs R above rung 0. Zero turns the rungs
	// off.
	Count int `json:"count"`
	// Eta is η: rung r takes the best ⌈n/η⌉ of the n Done architectures
	// of rung r−1 and trains each with η^r times rung 0's training (see
	// Options.RungChild). Zero means DefaultEta.
	Eta int `json:"eta"`
	// Max caps rung 1's promotions (n_0, the distinct Done trials, grows
	// with the budget). Zero means η^Count, so that the top rung holds η
	// architectures and every rung costs about as much as another.
	Max int `json:"max"`
}

// DefaultEta is MultiFidelity.Eta's default (Hyperband's).
const DefaultEta = 3

// maxRungs bounds MultiFidelity.Count: η^Count must stay a count of images.
const maxRungs = 8

// On reports whether the rungs run.
func (m MultiFidelity) On() bool { return m.Count > 0 }

// WithDefaults returns m with its defaults resolved (nothing when off).
func (m MultiFidelity) WithDefaults() MultiFidelity {
	if !m.On() {
		return m
	}
	if m.Eta == 0 {
		m.Eta = DefaultEta
	}
	if m.Max == 0 {
		m.Max = ipow(m.Eta, m.Count)
	}
	return m
}

// Validate reports a field out of range.
func (m MultiFidelity) Validate() error {
	switch {
	case m.Count < 0 || m.Count > maxRungs:
		return fmt.Errorf("search: rungs %d: want 0..%d (0: no multi-fidelity)", m.Count, maxRungs)
	case m.Eta != 0 && m.Eta < 2:
		return fmt.Errorf("search: eta %d: want >= 2", m.Eta)
	case m.Max < 0:
		return fmt.Errorf("search: rung max %d: want >= 0 (0: eta^rungs)", m.Max)
	case !m.On() && (m.Eta != 0 || m.Max != 0):
		return fmt.Errorf("search: eta %d, rung max %d without rungs (rungs 0)", m.Eta, m.Max)
	}
	return nil
}

func ipow(b, e int) int {
	n := 1
	for range e {
		n *= b
	}
	return n
}

// RungChild is how rung r (1 … Rungs.Count) trains: the run's child
// options with η^r times rung 0's training, on the same validation split
// (held out, so every rung's accuracies are comparable). scale is the whole
// training split's images over rung 0's (Config.FinalScale; ≤ 0 means 1).
// With TrainSize T and Epochs E, while T·η^r is below the whole split the
// rung trains E epochs on T·η^r images; from there on, the whole split
// (TrainSize 0) for max(E, round(E·η^r/scale)) epochs. The learning-rate
// schedule is the child's (cosine over the rung's epochs when on).
func (o Options) RungChild(r int, scale float64) ChildOptions {
	c := o.Child.WithDefaults()
	w := float64(ipow(o.Rungs.WithDefaults().Eta, r))
	if scale <= 0 || c.TrainSize == 0 {
		scale = 1
	}
	if c.TrainSize > 0 && w < scale {
		c.TrainSize *= int(w)
		return c
	}
	c.TrainSize = 0
	c.Epochs = max(c.Epochs, int(math.Round(float64(c.Epochs)*w/scale)))
	return c
}

// work is how many times rung 0's training (images × epochs) child is:
// the factor a trial's seconds are scaled by to predict its training with
// child (scale as RungChild's).
func (o Options) work(child ChildOptions, scale float64) float64 {
	c := o.Child.WithDefaults()
	if scale <= 0 || c.TrainSize == 0 {
		scale = 1
	}
	images := scale
	if child.TrainSize > 0 && c.TrainSize > 0 {
		images = float64(child.TrainSize) / float64(c.TrainSize)
	}
	return images * float64(child.Epochs) / float64(max(1, c.Epochs))
}

// RungRecord is one row of the rung table: a trial's architecture trained
// at rung Rung ≥ 1. Its embedded candidate fields mean what a final
// candidate's do: Trial is the trial whose architecture and seed it trains,
// Rank its place in rung Rung−1's ranking, Status Running while pending
// (Attempts 0) or interrupted, Epochs the rung's epochs, and its score the
// validation accuracy of its last epoch.
type RungRecord struct {
	Rung int
	// TrainSize is the rung's training images (0: the whole split).
	TrainSize int
	FinalRecord
}

// rungKey names a rung row.
type rungKey struct{ rung, trial int }

// RungStarted: a rung's candidate was handed to the evaluator.
type RungStarted struct {
	Rung RungRecord
	// Of is the number of the rung's candidates.
	Of int
}

// RungFinished: a rung's candidate's row was committed. Top says it is now
// the best of the highest rung (its model is stored; without a final phase
// best.onnx holds it).
type RungFinished struct {
	Rung RungRecord
	Top  bool
}

// Shrunk: the phases after the sampling were predicted not to fit the
// time left and were made smaller (fewer final candidates, rungs dropped,
// fewer final epochs); Note says how.
type Shrunk struct{ Note string }

func (*RungStarted) event()  {}
func (*RungFinished) event() {}
func (*Shrunk) event()       {}

// betterRung says whether row a ranks before b in a rung's ranking: a
// higher last-epoch validation accuracy, then the lower trial index.
func betterRung(a, b RungRecord) bool {
	ea, eb := a.Accuracy(), b.Accuracy()
	if ea != eb {
		return ea > eb
	}
	return a.Trial < b.Trial
}

// topRung says whether row a beats b for "the best" (the highest fidelity
// wins): the higher rung, then betterRung.
func topRung(a, b RungRecord) bool {
	if a.Rung != b.Rung {
		return a.Rung > b.Rung
	}
	return betterRung(a, b)
}

// rungDone says whether a row counts in the rankings.
func rungDone(f RungRecord) bool { return f.Status == Done && !math.IsNaN(f.Accuracy()) }

// rungRanking is rung r's ranking, by trial index: for r 0 the distinct
// Done trials by reward (lowest index on ties, finalCandidates' order);
// for r ≥ 1 the rung's Done rows by betterRung.
func rungRanking(recs []Record, rungs map[rungKey]RungRecord, r int) []int {
	var out []int
	if r == 0 {
		for _, c := range finalCandidates(recs, len(recs)) {
			out = append(out, c.Index)
		}
		return out
	}
	var rows []RungRecord
	for k, f := range rungs {
		if k.rung == r && rungDone(f) {
			rows = append(rows, f)
		}
	}
	slices.SortFunc(rows, func(a, b RungRecord) int {
		if betterRung(a, b) {
			return -1
		}
		return 1
	})
	for _, f := range rows {
		out = append(out, f.Trial)
	}
	return out
}

// promotions is how many of n Done architectures of rung r−1 rung r
// takes: ⌈n/η⌉, at most Max for rung 1.
func promotions(m MultiFidelity, r, n int) int {
	m = m.WithDefaults()
	k := (n + m.Eta - 1) / m.Eta
	if r == 1 {
		k = min(k, m.Max)
	}
	return k
}

// rungCandidates are rung r's candidates (trial indices, in rank order):
// the first promotions(r, n) of rung r−1's ranking of n.
func rungCandidates(recs []Record, rungs map[rungKey]RungRecord, m MultiFidelity, r int) []int {
	rank := rungRanking(recs, rungs, r-1)
	return rank[:promotions(m, r, len(rank))]
}

// fidelityRanking is every distinct Done trial, "the best" first: by the
// highest rung where it has a Done row (the highest fidelity wins), then
// its score there (the rung's last-epoch validation accuracy; at rung 0
// the search reward), then the lower index. Without rung rows it is
// finalCandidates' order. The final phase's candidates are its first K.
func fidelityRanking(recs []Record, rungs map[rungKey]RungRecord) []Record {
	top := map[int]RungRecord{}
	for _, f := range rungs {
		if t, ok := top[f.Trial]; rungDone(f) && (!ok || f.Rung > t.Rung) {
			top[f.Trial] = f
		}
	}
	out := finalCandidates(recs, len(recs))
	slices.SortStableFunc(out, func(a, b Record) int {
		ta, oka := top[a.Index]
		tb, okb := top[b.Index]
		switch {
		case !oka && !okb:
			return 0 // rung 0: finalCandidates' order stands
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		case topRung(ta, tb):
			return -1
		case topRung(tb, ta):
			return 1
		}
		return 0
	})
	return out
}

// topRow is the best row of the highest rung with a Done row (topRung), or
// the zero key {-1, -1}.
func topRow(rungs map[rungKey]RungRecord) rungKey {
	best := rungKey{-1, -1}
	for k, f := range rungs {
		if rungDone(f) && (best.rung < 0 || topRung(f, rungs[best])) {
			best = k
		}
	}
	return best
}

// rungPhase runs the rungs 1 … Rungs.Count in order: each one's candidates
// (rungCandidates) get a pending row in one transaction when the rung
// begins, then train (trainBatch) with RungChild(r) by Config.RungEvaluator;
// a row already there (a resumed run) is never trained again once
// finished. A resume without a new budget whose later phase has begun
// trains only the rows there are (a rung without rows stays dropped).
func (r *run) rungPhase(ctx context.Context) error {
	m := r.opts.Rungs
	if !m.On() {
		return nil
	}
	ev := r.rungEvaluator()
	for rung := 1; rung <= m.Count; rung++ {
		var cands []int
		if r.resumedAt(rung) {
			for k := range r.rungs {
				if k.rung == rung {
					cands = append(cands, k.trial)
				}
			}
			slices.SortFunc(cands, func(a, b int) int { return r.rungs[rungKey{rung, a}].Rank - r.rungs[rungKey{rung, b}].Rank })
		} else if r.laterBegun(rung) {
			continue // dropped to fit the budget by the process that planned it
		} else {
			if p := r.fit(rung); p.rungs < rung {
				note := fmt.Sprintf("rungs from %d dropped to fit the %s left (rungs %d of %d run)", rung, r.left().Round(time.Second), rung-1, m.Count)
				r.log.Warn(note)
				r.hook(&Shrunk{Note: note})
				return nil
			}
			cands = rungCandidates(r.recs, r.rungs, m, rung)
		}
		if len(cands) == 0 {
			r.log.Warn("rungs: no architecture to promote", "rung", rung)
			return nil
		}
		child := r.opts.RungChild(rung, r.cfg.FinalScale)
		var add []RungRecord
		var todo []FinalRecord
		for rank, i := range cands {
			k := rungKey{rung, i}
			f, ok := r.rungs[k]
			if !ok {
				c := r.recs[i]
				f = RungRecord{Rung: rung, TrainSize: child.TrainSize, FinalRecord: FinalRecord{Trial: i, Rank: rank, Arch: c.Arch,
					Status: Running, Seed: c.Seed, Params: c.Params, FLOPs: c.FLOPs, Epochs: child.Epochs}}
				r.rungs[k] = f
				add = append(add, f)
			}
			if f.Status == Running {
				todo = append(todo, f.FinalRecord)
			}
		}
		if err := r.st.putRungs(add); err != nil {
			return err
		}
		r.log.Info("rung", "rung", rung, "candidates", len(cands), "to train", len(todo), "train_size", child.TrainSize, "epochs", child.Epochs)
		rowOf := func(f FinalRecord) RungRecord {
			return RungRecord{Rung: rung, TrainSize: r.rungs[rungKey{rung, f.Trial}].TrainSize, FinalRecord: f}
		}
		err := r.trainBatch(ctx, batch{
			what: fmt.Sprintf("rung %d", rung), todo: todo, ev: ev, slots: phaseSlots(r.opts.Parallel, len(cands)),
			child: func(f FinalRecord) ChildOptions {
				c := child
				row := rowOf(f)
				c.TrainSize, c.Epochs = row.TrainSize, row.Epochs // a pending row keeps the fidelity it was planned with
				return c
			},
			put: func(f FinalRecord) error {
				r.rungs[rungKey{rung, f.Trial}] = rowOf(f)
				return r.st.putRung(rowOf(f), nil)
			},
			started: func(f FinalRecord) { r.hook(&RungStarted{Rung: rowOf(f), Of: len(cands)}) },
			release: func(trials []int) error { return r.st.releaseRung(rung, trials) },
			finish: func(f FinalRecord, out Outcome) error {
				row := rowOf(f)
				var model []byte
				if rungDone(row) && (r.rungTop.rung < 0 || topRung(row, r.rungs[r.rungTop])) {
					model = out.Model
					if model == nil {
						model = []byte{}
					}
				}
				return r.commitRung(row, model)
			},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// resumedAt says whether a resume without a new budget continues rung's
// rows as they are (the rung has rows).
func (r *run) resumedAt(rung int) bool {
	if !r.skipSampling() {
		return false
	}
	for k := range r.rungs {
		if k.rung == rung {
			return true
		}
	}
	return false
}

// laterBegun says whether, in a resume without a new budget, a phase after
// rung has rows (so rung, without rows, was dropped).
func (r *run) laterBegun(rung int) bool {
	if !r.skipSampling() {
		return false
	}
	if len(r.finals) > 0 {
		return true
	}
	for k := range r.rungs {
		if k.rung > rung {
			return true
		}
	}
	return false
}

// rungEvaluator trains the rungs: Config.RungEvaluator, else
// FinalEvaluator, else Evaluator.
func (r *run) rungEvaluator() Evaluator {
	switch {
	case r.cfg.RungEvaluator != nil:
		return r.cfg.RungEvaluator
	case r.cfg.FinalEvaluator != nil:
		return r.cfg.FinalEvaluator
	}
	return r.cfg.Evaluator
}

// commitRung writes a rung row (with a new top model in the same
// transaction, then best.onnx when the run has no final model), records it
// and reports it.
func (r *run) commitRung(f RungRecord, model []byte) error {
	if err := r.st.putRung(f, model); err != nil {
		return err
	}
	k := rungKey{f.Rung, f.Trial}
	r.rungs[k] = f
	if model != nil {
		r.rungTop = k
		if r.finalBest < 0 {
			if err := atomicfile.Write(filepath.Join(r.cfg.Dir, BestFile), model); err != nil {
				return fmt.Errorf("search: write %s: %w", BestFile, err)
			}
		}
	}
	r.log.Info("rung candidate", "rung", f.Rung, "trial", f.Trial, "status", f.Status.String(), "val_acc", f.Accuracy(), "top", model != nil)
	r.hook(&RungFinished{Rung: f, Top: model != nil})
	return nil
}

// rungList is the rung table by rung, rank, trial.
func (r *run) rungList() []RungRecord {
	var out []RungRecord
	for _, f := range r.rungs {
		out = append(out, f)
	}
	sortRungs(out)
	return out
}

func sortRungs(rows []RungRecord) {
	slices.SortFunc(rows, func(a, b RungRecord) int {
		switch {
		case a.Rung != b.Rung:
			return a.Rung - b.Rung
		case a.Rank != b.Rank:
			return a.Rank - b.Rank
		}
		return a.Trial - b.Trial
	})
}

// loadRungs reads the rung table and checks the stored top model against
// it (verifyModel). It returns the model best.onnx must hold when the run
// has no final model (nil: none) and whether it was restored.
func (r *run) loadRungs() (model []byte, restored bool, err error) {
	rows, err := r.st.rungRecords()
	if err != nil {
		return nil, false, err
	}
	r.rungs = map[rungKey]RungRecord{}
	for _, f := range rows {
		r.rungs[rungKey{f.Rung, f.Trial}] = f
	}
	r.rungTop = topRow(r.rungs)
	idx, model, sum, err := r.st.rungModel()
	if err != nil {
		return nil, false, err
	}
	return r.verifyModel("the rungs' top model", idx, r.rungTop.trial, model, sum, r.finalBest < 0)
}
