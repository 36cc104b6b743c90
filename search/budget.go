package search

import (
	"math"
	"slices"
	"time"
)

// plan is what the phases after the sampling train: rungs from … rungs
// (Rungs.Count, or fewer when the top ones are dropped), then the final
// phase's k candidates of epochs epochs each (k 0: no final phase).
type plan struct{ rungs, k, epochs int }

// fullPlan is the options' plan, nothing shrunk.
func (o Options) fullPlan() plan {
	return plan{rungs: o.Rungs.Count, k: o.Final.K, epochs: o.Final.WithDefaults().Epochs}
}

// stageCost is one phase's share of a prediction: todo candidates to
// train, each work times rung 0's training, of n candidates in all (n
// sets their slots: phaseSlots).
type stageCost struct {
	todo, n int
	work    float64
}

// phaseSlots is the slots (Trial.Slots) each candidate of a phase of n
// candidates gets: Parallel / n when n < Parallel, else one.
func phaseSlots(parallel, n int) int {
	return max(1, max(1, parallel)/max(1, n))
}

// slotEfficiency is how much of s slots' s-fold speed a candidate given
// them is predicted to reach: with 2 threads rather than 1, a Fashion-MNIST
// child of 5.6 M multiply-adds trained 1.61 times as fast on the 2-core
// machine of the README (716 against 444 images/s), so 0.8. A small one
// (1.36 M) went only 1.14 times as fast at batch 64: the final phase
// therefore times its candidates when it can (Timer, probeFinal), and
// this is the rungs' and the sampling reserve's estimate.
const slotEfficiency = 0.8

// slotSpeedup is the predicted speed of a candidate with s slots over one
// with one slot.
func slotSpeedup(s int) float64 {
	if s <= 1 {
		return 1
	}
	return slotEfficiency * float64(s)
}

// predictPhases is the time the stages need when each candidate takes
// seconds × its stage's work (divided by slotSpeedup of its slots) and up
// to parallel train at once, a stage after the other: seconds ×
// Σ ⌈todo/parallel⌉ × work / speedup. seconds is a conservative one-slot
// trial time (slowest): see (*run).predict.
func predictPhases(stages []stageCost, seconds float64, parallel int) time.Duration {
	p := max(1, parallel)
	var total float64
	for _, s := range stages {
		total += float64((s.todo+p-1)/p) * s.work / slotSpeedup(phaseSlots(p, s.n))
	}
	return time.Duration(total * seconds * float64(time.Second))
}

// slowest is the largest time per unit of work (rung 0's training) among
// recs: each trial's latest measurement, the seconds of its highest Done
// rung row over that rung's work, else its own seconds.
func (r *run) slowest(recs []Record) float64 {
	s := 0.0
	for _, rec := range recs {
		u := rec.Seconds
		top := RungRecord{}
		for k, f := range r.rungs {
			if k.trial == rec.Index && rungDone(f) && f.Rung > top.Rung {
				top = f
			}
		}
		if top.Rung > 0 {
			c := r.opts.Child.WithDefaults()
			c.TrainSize, c.Epochs = top.TrainSize, top.Epochs
			u = top.Seconds / r.opts.work(c, r.cfg.FinalScale)
		}
		s = math.Max(s, u)
	}
	return s
}

// predict is the time plan p needs from stage from (a rung 1 … Count, or
// Count+1: the final phase), with the candidates of the moment. Every
// candidate is predicted to take the slowest time per unit of work among
// the plausible candidates (the first stage's count of fidelityRanking,
// and while sampling M more: the iteration in flight may bring new
// winners; each measured at its highest rung, see slowest) times its
// stage's work (Options.work: images × epochs over rung 0's);
// counts after the first stage assume every candidate ends Done; rows
// already finished cost nothing.
func (r *run) predict(p plan, from int, sampling bool) time.Duration {
	o := r.opts
	ranking := fidelityRanking(r.recs, r.rungs)
	var stages []stageCost
	first := -1
	n := len(ranking) // the architectures the next rung ranks
	for rung := from; rung <= p.rungs; rung++ {
		k := promotions(o.Rungs, rung, n)
		if rung == from && !sampling {
			k = len(rungCandidates(r.recs, r.rungs, o.Rungs, rung))
		}
		todo := k
		if rung == from {
			first = k
			for _, i := range rungCandidates(r.recs, r.rungs, o.Rungs, rung) {
				if f, ok := r.rungs[rungKey{rung, i}]; ok && f.Status != Running {
					todo--
				}
			}
		}
		stages = append(stages, stageCost{todo: max(todo, 0), n: k, work: o.work(o.RungChild(rung, r.cfg.FinalScale), r.cfg.FinalScale)})
		n = k
	}
	var probed time.Duration // the final stage, when its candidates are timed (r.timed)
	if p.k > 0 {
		k := min(p.k, len(ranking))
		if first < 0 {
			first = k
		}
		var todo []int
		for _, c := range ranking[:k] {
			if f, ok := r.finals[c.Index]; !ok || f.Status == Running {
				todo = append(todo, c.Index)
			}
		}
		d, ok := r.probeFinal(todo, k, p.epochs, sampling)
		if ok {
			probed = d
		} else {
			c := o.FinalChild()
			c.Epochs = p.epochs
			stages = append(stages, stageCost{todo: len(todo), n: k, work: o.work(c, r.cfg.FinalScale)})
		}
	}
	plausible := max(first, 0)
	if sampling {
		plausible += o.M
	}
	return probed + predictPhases(stages, r.slowest(ranking[:min(plausible, len(ranking))]), o.Parallel)
}

// probeMargin scales a probe's prediction: the machine's speed drifts
// between the probe and the training (make search's seed-1 winner:
// predicted 8m8s, took 8m32s; in a later run predicted 8m58s, took
// 10m21s, the same 41-46 s epochs measured 36 s by its probe).
const probeMargin = 1.1

// timing is a Timer's prediction: fixed + perEpoch × epochs.
type timing struct{ fixed, perEpoch time.Duration }

// probeFinal is the final stage's time by its candidates' probes
// (r.timed): todo in rank order, of k candidates in the phase (their slots:
// phaseSlots), epochs each, in rounds of the candidates trained at once
// (Parallel / slots), each round as long as its slowest. ok is false while
// sampling, without a Timer, or when a probe fails: the caller predicts by
// the trials' seconds then.
func (r *run) probeFinal(todo []int, k, epochs int, sampling bool) (time.Duration, bool) {
	if sampling || r.timed == nil {
		return 0, false
	}
	slots := phaseSlots(r.opts.Parallel, k)
	at := max(1, max(1, r.opts.Parallel)/slots)
	var total, round time.Duration
	for i, trial := range todo {
		t, ok := r.timed(trial, slots)
		if !ok {
			return 0, false
		}
		round = max(round, time.Duration(probeMargin*float64(t.fixed+time.Duration(epochs)*t.perEpoch)))
		if (i+1)%at == 0 || i == len(todo)-1 {
			total += round
			round = 0
		}
	}
	return total, true
}

// shrink makes p smaller by one step: one final candidate fewer (down to
// one), else the top rung from from on dropped, else one final epoch fewer
// (down to one); ok false when nothing is left to take.
func shrink(p plan, from int) (plan, bool) {
	switch {
	case p.k > 1:
		p.k--
	case p.rungs >= from:
		p.rungs--
	case p.k > 0 && p.epochs > 1:
		p.epochs--
	default:
		return p, false
	}
	return p, true
}

// left is the time left of Options.Duration (0 when spent; the largest
// duration without one).
func (r *run) left() time.Duration {
	if r.opts.Duration <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return max(0, r.opts.Duration-time.Since(r.start))
}

// fit is the plan from stage from on that is predicted to fit the time
// left (predict), shrunk step by step (shrink) from the options' until it
// does or nothing is left to take: the smallest plan runs regardless (the
// final phase's first candidate always trains).
func (r *run) fit(from int) plan {
	p := r.opts.fullPlan()
	if r.opts.Duration <= 0 {
		return p
	}
	left := r.left()
	for r.predict(p, from, false) > left {
		q, ok := shrink(p, from)
		if !ok {
			break
		}
		p = q
	}
	return p
}

// finalReserve is the part of Options.Duration kept, while the search
// samples, for the next iteration and the phases after the sampling: the
// wall time of the last iteration (lastIteration) plus predict's time for
// the options' rungs and final phase with the candidates of the moment,
// that at most Options.FinalShare of the duration. An iteration thus
// starts only when it is predicted to end before the rungs and the final
// phase must begin; those are shrunk (fit) if they still would not fit.
// Without either, it is 0 (Options.Duration's rule).
//
// The prediction is conservative (every candidate as slow as the slowest
// plausible one, the iteration in flight's included), which alone once
// ended make search's sampling after 8 trials: the cap keeps the sampling
// its share and leaves the rest to the shrink.
func (r *run) finalReserve() time.Duration {
	if r.opts.Duration <= 0 || (!r.opts.Rungs.On() && !r.opts.Final.On()) {
		return 0 // nothing follows: the iteration in flight may end past the duration
	}
	after := r.predict(r.opts.fullPlan(), 1, true)
	if s := r.opts.FinalShare; s > 0 {
		after = min(after, time.Duration(s*float64(r.opts.Duration)))
	}
	return r.lastIteration() + after
}

// lastIteration is the wall time of the latest iteration in the trial
// table: its last trial's finish less its first trial's start (0 before
// any).
func (r *run) lastIteration() time.Duration {
	last := -1
	for i, rec := range r.recs {
		if r.have[i] {
			last = max(last, rec.Iteration)
		}
	}
	var first, end time.Time
	for i, rec := range r.recs {
		if !r.have[i] || rec.Iteration != last || rec.Started.IsZero() {
			continue
		}
		if first.IsZero() || rec.Started.Before(first) {
			first = rec.Started
		}
		end = slices.MaxFunc([]time.Time{end, rec.Finished}, time.Time.Compare)
	}
	if first.IsZero() || end.Before(first) {
		return 0
	}
	return end.Sub(first)
}
