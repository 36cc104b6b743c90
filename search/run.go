package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nas-project/nas/internal/atomicfile"
)

// ErrTooManyFailures is wrapped by the error of a search stopped by
// Options.MaxFailures consecutive failures.
var ErrTooManyFailures = errors.New("too many consecutive failed trials")

// ErrInconsistent is wrapped when a run directory does not match what its
// options and checkpoint reproduce (edited by hand, or another version).
var ErrInconsistent = errors.New("run directory is inconsistent")

// Config is one call of Run.
type Config struct {
	// Dir is the run directory. A new run creates it (it must not hold a
	// nas.db yet); Resume needs an existing one.
	Dir string
	// Resume continues the run in Dir: its stored options apply, except
	// for the budget fields Trials, Duration, MaxFailures and Parallel,
	// which Options replaces where they are not zero (and the new values
	// are stored). Options.InFlight, when not zero, must equal the stored
	// one (else the resume is refused). Every other field of Options is
	// ignored: read the stored
	// ones with ReadRun (e.g. to load the data the children train on).
	Resume bool
	// Options configures a new run (or the budget of a resumed one).
	Options Options
	// Evaluator trains the children. Required.
	Evaluator Evaluator
	// FinalEvaluator trains the final phase's candidates (Options.Final),
	// given Trials whose Child is Options.FinalChild: the whole training
	// split. Nil: Evaluator.
	FinalEvaluator Evaluator
	// RungEvaluator trains the rungs' promotions (Options.Rungs), given
	// Trials whose Child is Options.RungChild: it must train on
	// Child.TrainSize images of the training split (0: all of them), the
	// validation split the search's. Nil: FinalEvaluator, else Evaluator.
	RungEvaluator Evaluator
	// FinalScale is how many times a search child's training images the
	// whole training split holds (its count over TrainSize's): the final
	// candidates train on it, and the rungs up to it (RungChild); it
	// scales the predictions of their time. Zero means 1.
	FinalScale float64
	// Hook receives progress events; nil: none.
	Hook Hook
	// Logger receives the search's log; nil: discarded.
	Logger *slog.Logger
}

// Summary is what a search did.
type Summary struct {
	// Options are the run's options (defaults resolved, budget as run).
	Options Options
	// Trials is the number of final trials in the table; Ran the number
	// evaluated or recorded by this call.
	Trials, Ran int
	// Best is the best Done trial (highest reward, lowest index on ties);
	// nil when none is done.
	Best *Record
	// Stop says why the search stopped: "trials", "duration", or "final"
	// (a resume of a run whose final phase had begun: no sampling).
	Stop string
	// Final is the chosen candidate of the final phase (the run's model,
	// best.onnx), nil when there is none; Finals every candidate, by rank.
	Final  *FinalRecord
	Finals []FinalRecord
	// Top is the best row of the highest rung (the run's model when there
	// is no final phase), nil when there is none; Rungs every rung row, by
	// rung, rank and trial.
	Top   *RungRecord
	Rungs []RungRecord
	// Shrunk says how the phases after the sampling were made smaller to
	// fit the duration (Shrunk events), in order; empty when they were not.
	Shrunk []string
}

// Run runs (or resumes) a search. It returns the summary and nil when the
// budget is spent; ctx's error (wrapped) when ctx is cancelled, with the
// directory left resumable; an error wrapping ErrTooManyFailures when
// MaxFailures consecutive trials failed; other errors for invalid options,
// an unusable directory or a database failure.
func Run(ctx context.Context, cfg Config) (sum Summary, err error) {
	if cfg.Evaluator == nil {
		return sum, fmt.Errorf("search: no evaluator")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hook := cfg.Hook
	if hook == nil {
		hook = func(Event) {}
	}
	opts, st, err := openRun(cfg)
	if err != nil {
		return sum, err
	}
	defer func() {
		if cerr := st.close(); cerr != nil && err == nil {
			err = fmt.Errorf("search: close database: %w", cerr)
		}
	}()
	sum.Options = opts
	k, err := newKind(opts)
	if err != nil {
		return sum, err
	}
	r := &run{cfg: cfg, opts: opts, kind: k, st: st, log: log, start: time.Now(), interrupted: map[int]Record{}}
	r.hook = func(e Event) {
		if s, ok := e.(*Shrunk); ok {
			sum.Shrunk = append(sum.Shrunk, s.Note)
		}
		hook(e)
	}
	if err := r.load(); err != nil {
		return sum, err
	}
	if rc, ok := cfg.Evaluator.(Reconciler); ok {
		var final []int
		for i, have := range r.have {
			if have {
				final = append(final, i)
			}
		}
		if err := rc.Reconcile(ctx, final); err != nil {
			return sum, fmt.Errorf("search: reconcile the evaluator with the store: %w", err)
		}
	}
	if r.skipSampling() {
		r.stop = "final"
	} else {
		err = r.loop(ctx)
	}
	if err == nil {
		err = r.rungPhase(ctx)
	}
	if err == nil {
		err = r.finalPhase(ctx)
	}
	sum.Trials, sum.Ran, sum.Stop = r.final, r.ran, r.stop
	if r.best >= 0 {
		b := r.recs[r.best]
		sum.Best = &b
	}
	sum.Finals = r.finalList()
	if r.finalBest >= 0 {
		f := r.finals[r.finalBest]
		sum.Final = &f
	}
	sum.Rungs = r.rungList()
	if r.rungTop.rung >= 0 {
		f := r.rungs[r.rungTop]
		sum.Top = &f
	}
	return sum, err
}

// openRun creates or opens the run directory and returns the options in
// force. It changes nothing in a directory it refuses: a new run is checked
// (CheckNewRunDir) before anything is written; a resumed run's database is
// read before it is opened for writing, and the new budget (the options
// returned) is stored by the caller once the directory is found consistent.
func openRun(cfg Config) (Options, *store, error) {
	if !cfg.Resume {
		if err := cfg.Options.Validate(); err != nil {
			return Options{}, nil, err
		}
		state, err := checkNewRunDir(cfg.Dir)
		if err != nil {
			return Options{}, nil, err
		}
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return Options{}, nil, fmt.Errorf("search: %w", err)
		}
		if err := cleanTemps(cfg.Dir); err != nil {
			return Options{}, nil, err
		}
		opts := cfg.Options.WithDefaults()
		if err := createRun(cfg.Dir, opts, time.Now(), state); err != nil {
			return Options{}, nil, err
		}
		st, err := openStore(cfg.Dir)
		if err != nil {
			return Options{}, nil, err
		}
		return opts, st, nil
	}
	dbPath := filepath.Join(cfg.Dir, DBFile)
	if _, err := os.Stat(dbPath); err != nil {
		return Options{}, nil, fmt.Errorf("search: resume: %s is not a run directory: %w", cfg.Dir, err)
	}
	// Read first, read-only: a directory that holds no run (an unfinished
	// creation), or another version's, is refused unchanged.
	ro, err := openStoreReadOnly(cfg.Dir)
	if err != nil {
		return Options{}, nil, fmt.Errorf("search: resume %s: %w", cfg.Dir, err)
	}
	opts, _, err := ro.readRun()
	ro.close()
	if err != nil {
		return Options{}, nil, fmt.Errorf("search: resume %s: %w", cfg.Dir, err)
	}
	if err := cleanTemps(cfg.Dir); err != nil {
		return Options{}, nil, err
	}
	st, err := openStore(cfg.Dir)
	if err != nil {
		return Options{}, nil, err
	}
	b := cfg.Options
	if b.Trials != 0 {
		opts.Trials = b.Trials
	}
	if b.Duration != 0 {
		opts.Duration = b.Duration
	}
	if b.MaxFailures != 0 {
		opts.MaxFailures = b.MaxFailures
	}
	if b.Parallel != 0 {
		opts.Parallel = b.Parallel
	}
	if b.InFlight != 0 && b.InFlight != opts.InFlight {
		st.close()
		return Options{}, nil, fmt.Errorf("search: resume %s: the run samples %d iteration(s) in flight, not %d: the number is part of what the run computes (leave it unset to resume)", cfg.Dir, opts.InFlight, b.InFlight)
	}
	if err := opts.Validate(); err != nil {
		st.close()
		return Options{}, nil, fmt.Errorf("search: resume %s: %w", cfg.Dir, err)
	}
	return opts, st, nil
}

// cleanTemps removes the temporary files of writes a killed process left in
// a run directory (atomicfile's, and those of earlier versions:
// .best.onnx.tmp*, controller.ckpt.tmp*).
func cleanTemps(dir string) error {
	_, err := atomicfile.Clean(dir, func(n string) bool {
		return strings.HasPrefix(n, "."+BestFile+".tmp") || strings.HasPrefix(n, CheckpointFile+".tmp")
	})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	return nil
}

// run is the state of one Run call.
type run struct {
	cfg   Config
	opts  Options
	kind  kind
	st    *store
	log   *slog.Logger
	hook  Hook
	start time.Time
	strat strategy

	recs  []Record // by index; valid where have[i]
	have  []bool
	final int // number of final records
	ran   int
	best  int            // index of the best Done trial, or -1
	first map[string]int // canonical arch -> first trial whose outcome duplicates reuse
	stop  string
	// interrupted holds the rows left "running" by a process that died or
	// was cancelled, by index, until the trial's final row replaces them.
	interrupted map[int]Record
	// finals are the final phase's candidates by trial index; finalBest
	// the chosen one's trial index, or -1 (final.go).
	finals    map[int]FinalRecord
	finalBest int
	// rungs are the rung rows by rung and trial; rungTop the best of the
	// highest rung, or {-1, -1} (rungs.go).
	rungs   map[rungKey]RungRecord
	rungTop rungKey
	// timed, set by the final phase when its evaluator is a Timer, times
	// a final candidate (its trial index, its slots) by a probe, once
	// (budget.go).
	timed func(trial, slots int) (timing, bool)
}

// load reads the run's trials, makes its strategy and checks the directory
// (the best model against the table and its checksum) before it changes
// anything: then a database of an earlier version is upgraded, a resume's
// budget stored, and best.onnx rewritten from nas.db.
func (r *run) load() error {
	recs, err := r.st.trials()
	if err != nil {
		return err
	}
	r.best = -1
	r.first = map[string]int{}
	for _, rec := range recs {
		if rec.Status == Running {
			r.interrupted[rec.Index] = rec
			continue
		}
		r.put(rec)
	}
	if n := len(r.interrupted); n > 0 {
		r.log.Info("re-running interrupted trials", "count", n)
	}
	switch r.opts.Strategy {
	case StrategyRandom:
		r.strat = &randomStrategy{kind: r.kind, seed: r.opts.Seed}
	case StrategyEvolution:
		r.strat = &evolution{kind: r.kind, seed: r.opts.Seed, pop: r.opts.Population, tour: r.opts.Tournament}
	default:
		s, err := newRL(r.cfg.Dir, r.opts, r.kind)
		if err != nil {
			return err
		}
		r.strat = s
	}
	// Every trial before the strategy's first iteration is final.
	first := r.strat.firstIteration()
	for i := 0; i < first*r.opts.M; i++ {
		if i >= len(r.recs) || !r.have[i] {
			what := "missing"
			if _, ok := r.interrupted[i]; ok {
				what = "still running"
			}
			return fmt.Errorf("search: %w: trial %d is %s before iteration %d", ErrInconsistent, i, what, first)
		}
	}
	bestPath := filepath.Join(r.cfg.Dir, BestFile)
	idx, model, sum, err := r.st.bestModel()
	if err != nil {
		return err
	}
	var restored bool
	if model != nil {
		if idx != r.best {
			return fmt.Errorf("search: %w: best model is trial %d, the table's best is %d", ErrInconsistent, idx, r.best)
		}
		if sum != "" && modelSum(model) != sum {
			// A damaged blob: best.onnx, written from it, may be intact.
			file, ferr := os.ReadFile(bestPath)
			if ferr != nil || modelSum(file) != sum {
				return fmt.Errorf("search: %w: %s: the best model (trial %d) fails its sha256 checksum, and %s does not match it either",
					ErrInconsistent, filepath.Join(r.cfg.Dir, DBFile), idx, bestPath)
			}
			model, restored = file, true
		}
	}
	finalModel, finalRestored, err := r.loadFinal()
	if err != nil {
		return err
	}
	rungModel, rungRestored, err := r.loadRungs()
	if err != nil {
		return err
	}
	// The checks passed: now the changes.
	if err := r.st.upgrade(); err != nil {
		return err
	}
	if r.cfg.Resume {
		if err := r.st.updateRun(r.opts); err != nil {
			return err
		}
	}
	if restored {
		if err := r.st.restoreModel(idx, model); err != nil {
			return err
		}
		r.log.Warn("the best model in nas.db failed its checksum; restored it from best.onnx", "trial", idx)
	}
	if finalRestored {
		if err := r.st.restoreFinalModel(r.finalBest, finalModel); err != nil {
			return err
		}
		r.log.Warn("the final model in nas.db failed its checksum; restored it from best.onnx", "trial", r.finalBest)
	}
	if rungRestored {
		if err := r.st.restoreRungModel(r.rungTop.trial, rungModel); err != nil {
			return err
		}
		r.log.Warn("the rungs' top model in nas.db failed its checksum; restored it from best.onnx", "trial", r.rungTop.trial)
	}
	// best.onnx is an export of final_model, else of rung_model, else of
	// best_model: rewrite it, so that a run killed between the commit and
	// the rename ends consistent.
	switch {
	case finalModel != nil:
		model = finalModel
	case rungModel != nil:
		model = rungModel
	}
	if model != nil {
		if err := atomicfile.Write(bestPath, model); err != nil {
			return fmt.Errorf("search: write %s: %w", BestFile, err)
		}
	}
	return nil
}

// put records a final trial in memory.
func (r *run) put(rec Record) {
	for len(r.recs) <= rec.Index {
		r.recs = append(r.recs, Record{})
		r.have = append(r.have, false)
	}
	if !r.have[rec.Index] {
		r.final++
	}
	r.recs[rec.Index], r.have[rec.Index] = rec, true
	if rec.Status == Done && (r.best < 0 || better(rec, r.recs[r.best])) {
		r.best = rec.Index
	}
	if reusable(rec) {
		if j, ok := r.first[rec.Arch]; !ok || rec.Index < j {
			r.first[rec.Arch] = rec.Index
		}
	}
}

func better(a, b Record) bool {
	return a.Reward > b.Reward || (a.Reward == b.Reward && a.Index < b.Index)
}

// reusable: a trial whose outcome a later identical architecture reuses.
// Failed trials are not (an infrastructure failure may not repeat), except
// one that killed the search (crashed): it would again.
func reusable(rec Record) bool {
	s := rec.Status
	return s == Done || s == Stopped || s == Diverged || s == Oversized || isCrash(rec)
}

// isFailure says whether a final record counts as a failure.
func (r *run) isFailure(rec Record) bool {
	if rec.Status == Duplicate && rec.DupOf >= 0 && rec.DupOf < len(r.recs) {
		return r.recs[rec.DupOf].Status.failure()
	}
	return rec.Status.failure()
}

// checkFailures stops the search when the trials before end close with
// MaxFailures consecutive failures.
func (r *run) checkFailures(end int) error {
	if r.opts.MaxFailures < 0 {
		return nil
	}
	run := 0
	for i := end - 1; i >= 0 && r.isFailure(r.recs[i]); i-- {
		run++
	}
	if run >= r.opts.MaxFailures {
		last := r.recs[end-1]
		return fmt.Errorf("search: %w: the last %d trials failed (trial %d: %s: %s)", ErrTooManyFailures, run, last.Index, last.Status, last.Error)
	}
	return nil
}

// record is the start of trial i's row: what the proposal says.
func (r *run) record(iter, i int, p proposal) Record {
	return Record{Index: i, Iteration: iter, Arch: p.arch, Layers: p.layers, Strategy: r.opts.Strategy,
		DupOf: -1, Seed: TrialSeed(r.opts.Seed, i)}
}

// isolated reports whether the evaluator trains children outside this
// process (Isolated): then a trial running when the process died is not
// suspected of killing it.
func (r *run) isolated() bool {
	iso, ok := r.cfg.Evaluator.(Isolated)
	return ok && iso.Isolated()
}

// hasFirst reports whether an earlier trial's outcome is reused for arch.
func (r *run) hasFirst(arch string) bool {
	_, ok := r.first[arch]
	return ok
}

// commit writes a final row (and, for a new best, its model in the same
// transaction, then best.onnx), records it in memory and reports it.
func (r *run) commit(rec Record, model []byte) error {
	return r.commitAll([]Record{rec}, [][]byte{model})
}

// commitAll commits final rows in one transaction: models[k] is recs[k]'s
// model when it is a new best, in order (each better than the best before
// it), else nil; the last one is the best model, written in the same
// transaction and then to best.onnx. Then it records the rows in memory
// and reports them, in order.
func (r *run) commitAll(recs []Record, models [][]byte) error {
	best, model := -1, []byte(nil)
	for k, m := range models {
		if m != nil {
			best, model = recs[k].Index, m
		}
	}
	if err := r.st.putTrials(recs, best, model); err != nil {
		return err
	}
	if model != nil && r.finalBest < 0 && r.rungTop.rung < 0 { // with a final or rung model, best.onnx is its copy
		if err := atomicfile.Write(filepath.Join(r.cfg.Dir, BestFile), model); err != nil {
			return fmt.Errorf("search: write %s: %w", BestFile, err)
		}
	}
	for _, rec := range recs {
		if rc, ok := r.cfg.Evaluator.(Reconciler); ok {
			rc.Committed(rec.Index)
		}
		prevBest := r.best
		delete(r.interrupted, rec.Index)
		r.put(rec)
		r.ran++
		r.log.Debug("trial", "index", rec.Index, "status", rec.Status.String(), "reward", rec.Reward, "arch", rec.Arch)
		r.hook(&TrialFinished{Record: rec, Done: r.final})
		if r.best != prevBest {
			r.hook(&BestChanged{Record: r.recs[r.best]})
		}
	}
	return nil
}
