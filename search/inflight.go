package search

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// iteration is a sampled iteration that is not applied yet.
type iteration struct {
	iter, start, n, layers int
	// updates is the number of iterations applied when it was sampled:
	// its proposals, and its early-stopping thresholds, come from the
	// trials of those.
	updates int
	props   []proposal // M of them; the first n are trials
	stop    []float64  // early-stopping thresholds (Trial.StopBelow)
	left    int        // trials without a final row
}

// pending is a trial of an iteration in flight without a final row.
type pending struct {
	it       *iteration
	i        int
	p        proposal
	busy     bool
	attempts int // including the evaluation in flight
}

// result is an evaluation's answer.
type result struct {
	i   int
	out Outcome
	err error
}

// flight is the loop's state: the iterations sampled and not applied, and
// their trials. Only the loop's goroutine touches it (and the run); the
// evaluations send their results on results.
type flight struct {
	r        *run
	ctx      context.Context // the evaluations'; cancelled when the loop returns
	cancel   context.CancelFunc
	results  chan result
	iters    map[int]*iteration
	todo     []*pending // by index
	inflight map[string]bool
	running  int
}

// loop samples, evaluates and applies iterations until the budget is spent
// (Options.InFlight: iteration j is sampled once the iterations before
// j−D+1 are applied, and an iteration is applied once its trials are final
// and no sampling is due, in iteration order). The sampled table says
// where a resume stands: rl's checkpoint has applied firstIteration()
// iterations and sampled those whose row counts fewer updates; random and
// evolution keep no state, and replay from iteration 0. An iteration
// sampled again (its row exists) must propose what its row holds.
func (r *run) loop(ctx context.Context) (err error) {
	m, d := r.opts.M, r.opts.InFlight
	rows, err := r.st.sampledRows()
	if err != nil {
		return err
	}
	u := r.strat.firstIteration() // iterations applied
	s := u                        // iterations sampled
	for {
		row, ok := rows[s]
		if !ok || row.updates >= u {
			break
		}
		s++
	}
	ectx, cancel := context.WithCancel(ctx)
	f := &flight{r: r, ctx: ectx, cancel: cancel, results: make(chan result), iters: map[int]*iteration{}, inflight: map[string]bool{}}
	defer func() {
		if rerr := f.stopAll(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	sampling := true
	// The iterations the checkpoint sampled, from their rows.
	for it := u; it < s; it++ {
		if r.opts.Trials > 0 && it*m >= r.opts.Trials {
			s, sampling, r.stop = it, false, "trials"
			break
		}
		row := rows[it]
		props := make([]proposal, len(row.props))
		for k, sp := range row.props {
			props[k] = written(r.kind, sp.Layers, sp.Choices)
			if props[k].arch != sp.Arch {
				return fmt.Errorf("search: %w: iteration %d's proposal %d is %q, its decisions make %q", ErrInconsistent, it, k, sp.Arch, props[k].arch)
			}
		}
		if err := f.add(it, row.updates, props); err != nil {
			return err
		}
	}
	// need is the number of iterations applied before iteration j is
	// sampled: its row's, or the schedule's.
	need := func(j int) int {
		if row, ok := rows[j]; ok {
			return row.updates
		}
		return max(0, j-d+1)
	}
	for {
		for sampling {
			need := need(s)
			row, have := rows[s]
			if u < need {
				break
			}
			if have && u > need {
				return fmt.Errorf("search: %w: iteration %d was sampled after %d iterations were applied, the resumed run has applied %d", ErrInconsistent, s, need, u)
			}
			start := s * m
			if r.opts.Trials > 0 && start >= r.opts.Trials {
				sampling, r.stop = false, "trials"
				break
			}
			if r.opts.Duration > 0 && time.Since(r.start) >= r.opts.Duration-r.finalReserve() {
				sampling, r.stop = false, "duration"
				break
			}
			if ctx.Err() != nil {
				break
			}
			props, err := r.strat.propose(s, start, m, r.kind.depth(start), r.recs[:min(u*m, len(r.recs))])
			if err != nil {
				return err
			}
			if have {
				if !row.same(props) {
					return fmt.Errorf("search: %w: iteration %d: the strategy proposes other architectures than the run sampled", ErrInconsistent, s)
				}
			} else if err := r.st.putSampled(s, u, props); err != nil {
				return err
			}
			if err := f.add(s, u, props); err != nil {
				return err
			}
			s++
		}
		// Apply the next iteration once complete, unless a sample is due
		// first (it waits for the cancellation to end the loop, or a
		// resume: applying past it would sample from another state).
		if it := f.iters[u]; it != nil && it.left == 0 && !(sampling && u >= need(s)) {
			if err := r.apply(it); err != nil {
				return err
			}
			delete(f.iters, u)
			u++
			continue
		}
		if u == s && (!sampling || ctx.Err() != nil) {
			if sampling {
				return fmt.Errorf("search: interrupted before iteration %d: %w", s, ctx.Err())
			}
			return nil
		}
		if err := f.startReady(); err != nil {
			return err
		}
		if f.running == 0 {
			if ctx.Err() != nil {
				return fmt.Errorf("search: interrupted in iteration %d: %w", u, ctx.Err())
			}
			if len(f.todo) > 0 {
				return fmt.Errorf("search: internal error: trial %d can neither start nor finish", f.todo[0].i)
			}
			continue
		}
		if err := f.finish(<-f.results); err != nil {
			return err
		}
	}
}

// add makes iteration iter (sampled after updates applied iterations,
// proposing props) in flight: its trials already final are kept (their
// architecture must match the proposal), the others pending.
func (f *flight) add(iter, updates int, props []proposal) error {
	r := f.r
	m := r.opts.M
	if len(props) != m {
		return fmt.Errorf("search: %w: iteration %d has %d proposals, want %d", ErrInconsistent, iter, len(props), m)
	}
	start := iter * m
	n := m
	if r.opts.Trials > 0 {
		n = min(m, r.opts.Trials-start)
	}
	hist := r.recs[:min(updates*m, len(r.recs))]
	it := &iteration{iter: iter, start: start, n: n, layers: r.kind.depth(start), updates: updates, props: props,
		stop: r.opts.EarlyStop.thresholds(hist, r.opts.Child.Epochs)}
	for k, p := range props[:n] {
		i := start + k
		if i < len(r.recs) && r.have[i] {
			switch {
			case r.recs[i].Iteration != iter:
				return fmt.Errorf("search: %w: trial %d belongs to iteration %d, not %d", ErrInconsistent, i, r.recs[i].Iteration, iter)
			case r.recs[i].Arch != p.arch:
				return fmt.Errorf("search: %w: trial %d is %q, the strategy proposes %q", ErrInconsistent, i, r.recs[i].Arch, p.arch)
			}
			continue
		}
		attempts := 0
		if prev, ok := r.interrupted[i]; ok {
			if prev.Arch == p.arch && prev.Iteration == iter {
				attempts = prev.Attempts
			} else {
				// Not the trial proposed again (written by hand, or by
				// another version): a row that holds no result, replaced.
				r.log.Warn("an interrupted trial's row is not the trial proposed again: replacing it",
					"index", i, "arch", prev.Arch, "proposed", p.arch)
			}
		}
		f.todo = append(f.todo, &pending{it: it, i: i, p: p, attempts: attempts})
		it.left++
	}
	f.iters[iter] = it
	return nil
}

// apply makes a complete iteration's update (rl; random and evolution
// observe nothing) and reports it; it stops the search after MaxFailures
// consecutive failures.
func (r *run) apply(it *iteration) error {
	recs := r.recs[it.start : it.start+it.n]
	if err := r.checkFailures(it.start + it.n); err != nil {
		return err
	}
	ev := &IterationDone{}
	if it.n == r.opts.M {
		done, err := r.strat.observe(it.iter, it.props, recs)
		if err != nil {
			return err
		}
		if done != nil {
			ev = done
		}
	}
	ev.Iteration, ev.Layers, ev.Trials = it.iter, it.layers, it.n
	for _, rec := range recs {
		ev.MeanReward += rec.Reward / float64(it.n)
	}
	r.log.Info("iteration", "iteration", it.iter, "layers", it.layers, "trials", it.n, "mean_reward", ev.MeanReward, "updated", ev.Updated)
	r.hook(ev)
	return nil
}

// startReady goes through the pending trials in index order: a proposal
// outside the space, a duplicate of a final trial and a trial that killed
// the search twice get their final row; the others start while fewer than
// Parallel run, except one whose architecture an earlier trial is
// training (it waits for that one's outcome).
func (f *flight) startReady() error {
	r := f.r
	var rest []*pending
	var starts []Record // the trials to hand to the evaluator
	for _, t := range f.todo {
		if t.busy || f.ctx.Err() != nil {
			rest = append(rest, t)
			continue
		}
		rec := r.record(t.it.iter, t.i, t.p)
		rec.Attempts = t.attempts
		if t.p.err != nil || r.hasFirst(t.p.arch) || (t.attempts >= maxAttempts && !r.isolated()) {
			rec.Started = time.Now()
			rec.Finished = rec.Started
			switch {
			case t.p.err != nil:
				rec = proposalFailed(rec, t.p.err, r.opts)
			case r.hasFirst(t.p.arch):
				j := r.first[t.p.arch]
				rec = duplicateOf(rec, r.recs[j], j)
			default:
				rec = crashed(rec, r.opts)
				r.log.Warn("trial killed the search twice: recorded failed", "index", t.i, "arch", t.p.arch)
			}
			if err := r.commit(rec, nil); err != nil {
				return err
			}
			t.it.left--
			continue
		}
		if f.inflight[t.p.arch] || f.running >= r.opts.Parallel {
			rest = append(rest, t) // wait for the identical earlier trial, or a free slot
			continue
		}
		t.attempts++
		rec.Attempts = t.attempts
		rec.Status, rec.Started = Running, time.Now()
		t.busy = true
		f.inflight[t.p.arch] = true
		f.running++
		starts = append(starts, rec)
		rest = append(rest, t)
	}
	f.todo = rest
	// The running rows in one transaction, then the evaluations.
	if err := r.st.putTrials(starts, -1, nil); err != nil {
		// Not handed to the evaluator: nothing to wait for or release.
		for _, t := range f.todo {
			if t.busy && slices.ContainsFunc(starts, func(rec Record) bool { return rec.Index == t.i }) {
				t.busy = false
				f.running--
			}
		}
		return err
	}
	for _, rec := range starts {
		tr := Trial{Index: rec.Index, Iteration: rec.Iteration, Arch: rec.Arch, Seed: rec.Seed, Child: r.opts.Child, StopBelow: f.iters[rec.Iteration].stop}
		r.hook(&TrialStarted{Trial: tr})
		go func(started time.Time) {
			out, err := r.cfg.Evaluator.Evaluate(f.ctx, tr)
			if out.Seconds == 0 {
				out.Seconds = time.Since(started).Seconds()
			}
			f.results <- result{i: tr.Index, out: out, err: err}
		}(rec.Started)
	}
	return nil
}

// finish commits the outcomes of evaluations that returned (those that
// wait on the channel are taken too: their rows are committed in one
// transaction, in the order they arrived). When the search is cancelled
// it commits nothing: the trials stay busy, for stopAll to release.
func (f *flight) finish(res result) error {
	r := f.r
	batch := []result{res}
	for more := true; more; {
		select {
		case x := <-f.results:
			batch = append(batch, x)
		default:
			more = false
		}
	}
	ts := make([]*pending, len(batch))
	for k, res := range batch {
		f.running--
		for _, x := range f.todo {
			if x.i == res.i {
				ts[k] = x
				break
			}
		}
		delete(f.inflight, ts[k].p.arch)
	}
	interrupted := func() error {
		// Cancelled: their attempts are given back (stopAll).
		return fmt.Errorf("search: interrupted in iteration %d: %w", ts[0].it.iter, f.ctx.Err())
	}
	if f.ctx.Err() != nil {
		return interrupted()
	}
	var best *Record
	if r.best >= 0 {
		b := r.recs[r.best]
		best = &b
	}
	recs := make([]Record, len(batch))
	models := make([][]byte, len(batch))
	for k, res := range batch {
		t := ts[k]
		rec := r.record(t.it.iter, t.i, t.p)
		rec.Attempts = t.attempts
		rec.Finished = time.Now()
		rec.Started = rec.Finished.Add(-time.Duration(res.out.Seconds * float64(time.Second)))
		rec, model := finalRecord(rec, res.out, res.err, r.opts, best)
		if len(model) == 0 && model != nil && res.out.FetchModel != nil {
			// A new best whose model stayed where it was trained.
			m, err := res.out.FetchModel(f.ctx)
			switch {
			case f.ctx.Err() != nil:
				return interrupted()
			case err != nil:
				r.log.Warn("the new best trial's model is unavailable", "index", t.i, "err", err)
			case m != nil:
				model = m
			}
		}
		if model != nil {
			b := rec
			best = &b
		}
		recs[k], models[k] = rec, model
	}
	if err := r.commitAll(recs, models); err != nil {
		return err
	}
	done := map[*pending]bool{}
	for _, t := range ts {
		done[t] = true
		t.busy = false
		t.it.left--
	}
	rest := f.todo[:0]
	for _, x := range f.todo {
		if !done[x] {
			rest = append(rest, x)
		}
	}
	f.todo = rest
	return nil
}

// stopAll ends the loop's evaluations: it cancels those still running,
// waits for them, and gives back the attempt of every trial cancelled
// (their rows stay "running", to be evaluated again by a resume).
func (f *flight) stopAll() error {
	f.cancel()
	for f.running > 0 {
		res := <-f.results
		f.running--
		for _, x := range f.todo {
			if x.i == res.i {
				x.busy = true // still holding its row: released below
			}
		}
	}
	var released []int
	for _, t := range f.todo {
		if t.busy {
			released = append(released, t.i)
		}
	}
	return f.r.st.release(released)
}
