package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

func (a *app) searchCmd() *cobra.Command {
	var (
		opts         search.Options
		dir, resume  string
		quiet, jsonl bool
		serveAt      string
		rf           runtimeFlags
		cf           childFlags
		lf           lmFlags
		wf           workerFlags
		ff           finalFlags
		gf           rungFlags
		// storedInFlight: a resumed run's iterations in flight.
		storedInFlight int
	)
	cmd := &cobra.Command{
		Use:   "search --dir DIR | --resume DIR",
		Short: "Search for an architecture (the main job)",
		Long: `Search the space for the architecture with the best reward: each iteration samples M architectures
(strategy rl: the controller; or random; or evolution), trains each child with ONNX Runtime, records every
trial in DIR/nas.db and updates the strategy. The best trial's trained model is DIR/best.onnx (it takes raw
pixels). Ctrl-C stops cleanly; --resume DIR continues where the run stopped, without losing or repeating a
completed trial. --in-flight D samples iteration j as soon as iteration j-D is applied, so that D iterations
train at once (the results depend on D and the seed, not on timing; with workers D defaults to enough
iterations to keep them busy).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (dir == "") == (resume == "") {
				return usagef("search: give --dir DIR for a new run or --resume DIR to continue one")
			}
			if err := checkThreads(rf.threads); err != nil {
				return err
			}
			if err := wf.check(); err != nil {
				return err
			}
			cfg := search.Config{Dir: dir, Options: opts}
			cfg.Options.Child = cf.options()
			cfg.Options.Final = ff.options()
			cfg.Options.Rungs = gf.options()
			cfg.Options.FinalShare = ff.finalShare(cfg.Options)
			co := cfg.Options.Child
			seed := opts.Seed
			kind := cfg.Options.WithDefaults().Kind
			if resume != "" {
				stored, _, err := readRun(resume)
				if err != nil {
					return err
				}
				cfg.Dir, cfg.Resume = resume, true
				co, seed, kind = stored.Child, stored.Seed, stored.Kind
				cfg.Options.M = stored.M // for childParallel; Run keeps the stored options
				if !cmd.Flags().Changed("in-flight") {
					cfg.Options.InFlight = 0
				}
				storedInFlight = stored.InFlight
			}
			if kind == search.KindRNN {
				if !cfg.Resume {
					cfg.Options.Child = lf.options(cmd.Flags(), cf)
					// The final phase is for CNNs: off unless asked for
					// (then Validate says why not).
					if !cmd.Flags().Changed("final-k") {
						cfg.Options.Final = search.FinalTraining{}
						cfg.Options.FinalShare = ff.finalShare(cfg.Options)
					}
				}
				return a.searchLM(cmd, cfg, lmRun{rf: rf, cf: cf, wf: wf, quiet: quiet, json: jsonl, serveAt: serveAt, storedInFlight: storedInFlight})
			}
			if resume == "" {
				if err := checkDataFlag(cf.co); err != nil {
					return err
				}
				if err := cfg.Options.Validate(); err != nil {
					return usageError{err}
				}
				// Fail before loading data, not after: a directory that
				// holds a run, or a run's files without one.
				if err := search.CheckNewRunDir(dir); err != nil {
					return usageError{err}
				}
			}
			out := cmd.OutOrStdout()
			log := a.logger()
			data, err := loadData(cf.root(), co, seed)
			if err != nil {
				return err
			}
			if err := checkTrainable(co, data); err != nil {
				return err
			}
			local := childParallel(&cfg.Options, wf, &rf, storedInFlight)
			memory := ""
			if !cfg.Resume {
				memory = cf.memoryLimit(&cfg.Options.Child, local)
			}
			rt, err := rf.runtime(log)
			if err != nil {
				return err
			}
			completed := false
			if wf.on() {
				ev, stop, err := a.distEvaluator(cmd.Context(), wf, cfg.Dir, cfg.Resume, seed, rf, cf.root(), log, a.stderr)
				defer func() { stop(completed) }()
				if err != nil {
					return err
				}
				cfg.Evaluator = ev
			} else {
				ev, err := localeval.New(localeval.Config{Runtime: rt, Train: data.Train, Val: data.Val, Norm: data.Norm, Logger: log})
				if err != nil {
					return err
				}
				cfg.Evaluator = ev
			}
			finalHeader, err := finalSetup(&cfg, cf.root(), rt, data, log)
			if err != nil {
				return err
			}
			cfg.Logger = log
			p := &searchProgress{w: out, quiet: quiet, json: jsonl, start: time.Now()}
			if !quiet && !jsonl && isTerminal(a.stderr) {
				p.barOut = a.stderr
			}
			cfg.Hook = p.hook
			if !quiet && !jsonl {
				o := cfg.Options.WithDefaults()
				if cfg.Resume {
					fmt.Fprintf(out, "resuming %s\n", cfg.Dir)
				} else {
					fmt.Fprintf(out, "searching %s space with %s: %s; M=%d, %d at once with %d thread(s) each%s\n", o.Space, o.Strategy, budget(o), o.M, o.Parallel, rf.threads, inFlightNote(o))
					fmt.Fprintf(out, "depth schedule: %d layers, +%d every %d trials (max %d)\n", o.StartLayers, o.LayerStep, o.LayerEvery, maxLayers(o))
					fmt.Fprintf(out, "memory limit per child: %s\n", memory)
				}
				if o.Cost.On() {
					fmt.Fprintln(out, objective(o.Cost))
				}
				if o.EarlyStop.On {
					fmt.Fprintln(out, earlyStop(o.EarlyStop))
				}
				fmt.Fprintf(out, "children: %s, %d training / %d validation images, %d epoch(s), batch %d, lr %g\n",
					co.WithDefaults().Dataset, data.Train.Len(), data.Val.Len(), co.WithDefaults().Epochs, co.WithDefaults().Batch, co.WithDefaults().LR)
				if finalHeader != "" {
					fmt.Fprintln(out, finalHeader)
				}
			}
			p.total = cfg.Options.Trials
			ctx := cmd.Context()
			if serveAt != "" {
				sctx, stop := context.WithCancel(ctx)
				defer stop()
				if err := a.serveBeside(sctx, a.stderr, cfg.Dir, serveAt); err != nil {
					return err
				}
			}
			sum, err := a.runSearch(ctx, cfg, p)
			completed = err == nil
			if err != nil {
				return err
			}
			// The search is complete; what follows only reports on it, and
			// stops at an interrupt too.
			interrupted := func() error {
				if ctx.Err() == nil {
					return nil
				}
				fmt.Fprintf(a.stderr, "nas: interrupted after the search, which is complete (%s): "+
					"nas show, nas plot and nas export %s report on it\n", cfg.Dir, cfg.Dir)
				return ctx.Err()
			}
			if err := interrupted(); err != nil {
				return err
			}
			pics := io.Discard
			if !jsonl && !quiet {
				pics = out
			}
			if err := writePlot(cfg.Dir, filepath.Join(cfg.Dir, "rewards.png"), "status"); err != nil {
				return err
			}
			fmt.Fprintf(pics, "wrote %s\n", filepath.Join(cfg.Dir, "rewards.png"))
			if err := interrupted(); err != nil {
				return err
			}
			if sum.Best != nil {
				drawn := *sum.Best
				model := -1 // best.onnx is the final model, or the top rung's: draw its architecture
				switch {
				case sum.Final != nil:
					model = sum.Final.Trial
				case sum.Top != nil:
					model = sum.Top.Trial
				}
				for _, r := range recsOf(cfg.Dir) {
					if r.Index == model {
						drawn = r
					}
				}
				if err := writeGraph(pics, a.stderr, cfg.Dir, drawn, filepath.Join(cfg.Dir, "best.dot")); err != nil {
					return err
				}
			}
			if jsonl {
				return nil
			}
			if sum.Stop == "final" {
				phase := "the final training"
				if sum.Options.Rungs.On() {
					phase = "the rungs"
				}
				fmt.Fprintf(out, "\n%d trials in %s (%s had begun: no sampling)\n", sum.Trials, cfg.Dir, phase)
			} else {
				fmt.Fprintf(out, "\n%d trials in %s (stopped by the %s budget)\n", sum.Trials, cfg.Dir, sum.Stop)
			}
			if quiet {
				for _, n := range sum.Shrunk { // printed as they happened otherwise
					fmt.Fprintf(out, "budget: %s\n", n)
				}
			}
			if sum.Best == nil {
				fmt.Fprintln(out, "no trial trained successfully")
				return nil
			}
			b := sum.Best
			fmt.Fprintf(out, "best: trial %d, reward %.4f, validation accuracy %.4f, %s params, %s multiply-adds\n  %s\n",
				b.Index, b.Reward, bestOf(b.ValAcc), humanCount(b.Params), humanCount(b.FLOPs), b.Arch)
			if sum.Top != nil {
				topLine(out, *sum.Top)
			}
			if sum.Final != nil {
				finalLine(out, *sum.Final, sum.Options)
			}
			model, err := os.ReadFile(filepath.Join(cfg.Dir, search.BestFile))
			if err != nil {
				return bestModelError(cfg.Dir, err)
			}
			test, err := loadTest(co.WithDefaults().Dataset, cf.root())
			if err != nil {
				return err
			}
			acc, err := modelAccuracy(ctx, rt, model, test, 256)
			if err := interrupted(); err != nil {
				return err
			}
			if err != nil {
				return bestModelError(cfg.Dir, err)
			}
			if sum.Final != nil {
				fmt.Fprintf(out, "  test accuracy %.4f on %d images (%s: the final model)\n", acc, data.Test.Len(), filepath.Join(cfg.Dir, search.BestFile))
				return nil
			}
			if sum.Top != nil {
				fmt.Fprintf(out, "  test accuracy %.4f on %d images (%s: the top rung's model)\n", acc, data.Test.Len(), filepath.Join(cfg.Dir, search.BestFile))
				return nil
			}
			fmt.Fprintf(out, "  test accuracy %.4f on %d images (%s, trained as in the search; retrain it longer for the final number)\n",
				acc, data.Test.Len(), filepath.Join(cfg.Dir, search.BestFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the new run's directory")
	f.StringVar(&resume, "resume", "", "continue the run in this directory (its stored options apply; budget flags may extend it)")
	f.StringVar(&opts.Strategy, "strategy", "rl", "rl (the controller), random, or evolution (regularized evolution)")
	f.StringVar(&opts.Space, "space", "v1", "search space: v1 (stride 1), v2 (strides 1-3), v3 (v2 + 2x2 max pooling) or v3-wide (v3 + 96 and 128 filters); "+
		"or a recurrent cell's for a language model: cell8 (the paper's base-8 tree), cell4 or cell2")
	f.IntVar(&opts.M, "m", 8, "architectures per iteration (the controller's batch)")
	f.IntVar(&opts.Parallel, "parallel", 0, "children trained at once, each with --threads threads (0: min(M·in-flight, cores), and threads = cores/parallel; with workers: every trial in flight, M·in-flight)")
	f.IntVar(&opts.InFlight, "in-flight", 0, "iterations in flight: iteration j is sampled once iteration j-D is applied (0: 1 in process; with workers ⌈2·slots/M⌉, slots --workers N, or M when remote workers join; stored with the run)")
	f.IntVar(&opts.Trials, "trials", 0, "stop after this many trials (0: no limit; then --duration is needed)")
	f.DurationVar(&opts.Duration, "duration", 0, "stop at the first iteration that would start after this much time (0: no limit)")
	f.IntVar(&opts.MaxFailures, "max-failures", 20, "stop after this many consecutive failed trials (negative: never)")
	f.IntVar(&opts.StartLayers, "start-layers", 0, "depth of the first architectures (0: min(6, the space's maximum))")
	f.IntVar(&opts.LayerStep, "layer-step", 0, "layers added at each depth stage (0: 2, the paper's)")
	f.IntVar(&opts.LayerEvery, "layer-every", 0, "trials per depth stage (0: the budget split evenly over the depths)")
	f.Float64Var(&opts.Penalty, "penalty", 0, "reward of a failed, diverged or oversized trial")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of everything random in the search")
	f.IntVar(&opts.Population, "population", 0, "evolution: population size (0: 20)")
	f.IntVar(&opts.Tournament, "tournament", 0, "evolution: tournament size (0: 5)")
	f.Float64Var(&opts.Controller.EntropyWeight, "entropy", 0.001, "rl: entropy bonus weight")
	f.Float64Var(&opts.Controller.LR, "controller-lr", 0, "rl: the controller's Adam learning rate (0: the paper's 0.0006, set for 12,800 trials; 0.02 suits a few hundred, see make compare)")
	f.Var((*countFlag)(&opts.Cost.Target), "cost-target", "trade accuracy for size (MnasNet): the cost a child is aimed at, e.g. 20M (0: accuracy alone)")
	f.StringVar(&opts.Cost.Metric, "cost-metric", "", "what --cost-target counts: flops (multiply-adds per image) or params (default flops)")
	f.Float64Var(&opts.Cost.Weight, "cost-weight", 0, "reward × (cost/target)^w: w (0: -0.07, MnasNet's soft objective; -1 with --cost-hard)")
	f.BoolVar(&opts.Cost.Hard, "cost-hard", false, "no reward change at or under the target (MnasNet's hard constraint)")
	f.BoolVar(&opts.EarlyStop.On, "early-stop", false, "stop children below the median of earlier trials after an epoch (the median stopping rule; needs --epochs 2 or more)")
	f.IntVar(&opts.EarlyStop.MinTrials, "early-stop-min", 0, "early stop: earlier trials needed at an epoch before the rule applies there (0: 5)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the result")
	f.BoolVar(&jsonl, "json", false, "print one JSON object per finished trial, nothing else")
	serveFlag(f, &serveAt)
	ff.register(f)
	gf.register(f)
	rf.register(f)
	wf.register(cmd)
	cf.register(f, search.ChildOptions{Dataset: "fashion-mnist", Epochs: 1, Batch: 64, LR: 0.05, TrainSize: 5000, ValSize: 1000})
	lf.register(f)
	return cmd
}

// runSearch runs the search of cfg, ends p's progress bar, and tells how to
// resume a run that was interrupted.
func (a *app) runSearch(ctx context.Context, cfg search.Config, p *searchProgress) (search.Summary, error) {
	sum, err := search.Run(ctx, cfg)
	p.finish()
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(a.stderr, "nas: search interrupted; completed trials are saved. Continue with:\n  nas search --resume %s\n", cfg.Dir)
	}
	return sum, err
}

// childParallel sets how many children train at once and with how many
// threads, and returns how many run on this machine. Children in parallel,
// one thread each, beat one child with every thread (measured on 2 cores:
// 28.3 s against 32.2 s for the same 16 Fashion-MNIST trials): by default
// P = min(M·D, cores) children of cores/P threads, D the iterations in
// flight. With workers, every trial of the iterations in flight is queued
// at once (P = M·D) and the local workers share the cores; D defaults to
// enough iterations that the queue holds twice the worker slots (see
// workerInFlight). stored is a resumed run's D (0: a new run); on a
// resume o.InFlight is the flag's, 0 unless given.
func childParallel(o *search.Options, wf workerFlags, rf *runtimeFlags, stored int) (local int) {
	m, d := o.WithDefaults().M, o.InFlight
	if d == 0 {
		d = stored
	}
	if d == 0 && wf.on() {
		d = workerInFlight(wf, m)
		o.InFlight = d
	}
	d = max(d, 1)
	local = o.Parallel
	if wf.on() {
		if o.Parallel == 0 {
			o.Parallel = m * d
		}
		local = max(1, wf.workers)
	}
	if o.Parallel == 0 {
		o.Parallel = min(m*d, runtime.NumCPU())
		local = o.Parallel
	}
	if rf.threads == 0 {
		rf.threads = max(1, runtime.NumCPU()/local)
	}
	return local
}

// workerInFlight is the default number of iterations in flight with
// workers: ⌈2·slots/M⌉, so that the queue holds twice the worker slots
// and a worker finds the next trial while an iteration waits for its last
// child (internal/dist's BenchmarkUtilisation: M=4 and 8 workers, 92%
// busy with D=4 against 37% with D=1). The slots are --workers N's (one
// trial each); remote workers (--listen, --nats) are not counted before
// they join: they count as M, for at least 2 iterations (give --in-flight
// for more workers).
func workerInFlight(wf workerFlags, m int) int {
	slots := wf.workers
	if wf.listen != "" || wf.nats.url != "" {
		slots = max(slots, m)
	}
	return max(1, (2*slots+m-1)/m)
}

// inFlightNote is the header's mention of the iterations in flight (none
// for one).
func inFlightNote(o search.Options) string {
	if o.InFlight <= 1 {
		return ""
	}
	return fmt.Sprintf("; %d iterations in flight", o.InFlight)
}

func budget(o search.Options) string {
	switch {
	case o.Trials > 0 && o.Duration > 0:
		return fmt.Sprintf("%d trials or %s", o.Trials, o.Duration)
	case o.Trials > 0:
		return fmt.Sprintf("%d trials", o.Trials)
	default:
		return o.Duration.String()
	}
}

func maxLayers(o search.Options) int {
	sp, err := onnxgen.SpaceByName(o.Space)
	if err != nil {
		return 0
	}
	return sp.MaxLayers
}

// searchProgress prints the search's events: a line per finished trial and a
// progress bar (trials done / budget, ETA, best reward, depth), or JSON.
type searchProgress struct {
	w, barOut   io.Writer
	quiet, json bool
	start       time.Time
	total       int
	bar         *progressbar.ProgressBar
	best        float64
	depth       int
	lm          bool // a cell search: scores are 1/perplexity
}

func (p *searchProgress) hook(e search.Event) {
	switch e := e.(type) {
	case *search.FinalStarted, *search.FinalFinished:
		p.finalEvent(e)
	case *search.RungStarted, *search.RungFinished, *search.Shrunk:
		p.rungEvent(e)
	case *search.TrialFinished:
		r := e.Record
		p.depth = r.Layers
		if r.Status == search.Done || r.Status == search.Duplicate {
			p.best = max(p.best, r.Reward)
		}
		switch {
		case p.json:
			_ = json.NewEncoder(p.w).Encode(trialJSON(r))
		case !p.quiet:
			if p.bar != nil {
				_ = p.bar.Clear()
			}
			if p.lm {
				fmt.Fprintf(p.w, "trial %4d  %-9s reward %.4f  ppl %8.2f  %5.1fs  %s\n", r.Index, r.Status, r.Reward, 1/bestOf(r.ValAcc), r.Seconds, r.Arch)
			} else {
				fmt.Fprintf(p.w, "trial %4d  %-9s reward %.4f  val %.4f  %5.1fs  %s\n", r.Index, r.Status, r.Reward, bestOf(r.ValAcc), r.Seconds, r.Arch)
			}
			if r.Error != "" && r.Status != search.Duplicate {
				fmt.Fprintf(p.w, "            %s\n", r.Error)
			}
		}
		if p.barOut != nil {
			if p.bar == nil {
				p.bar = progressbar.NewOptions(max(p.total, -1), progressbar.OptionSetWriter(p.barOut),
					progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish())
			}
			p.bar.Describe(fmt.Sprintf("best %.4f  depth %d", p.best, p.depth))
			_ = p.bar.Set(e.Done)
		}
	}
}

func (p *searchProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.barOut)
	}
}

// trialJSON is the --json form of a trial record.
func trialJSON(r search.Record) map[string]any {
	return map[string]any{
		"index": r.Index, "iteration": r.Iteration, "arch": r.Arch, "layers": r.Layers, "strategy": r.Strategy,
		"status": r.Status.String(), "reward": r.Reward, "val_acc": r.ValAcc, "params": r.Params, "flops": r.FLOPs,
		"seconds": r.Seconds, "error": r.Error, "dup_of": r.DupOf, "seed": r.Seed,
	}
}

// modelAccuracy is the accuracy on set of an inference model run through
// ONNX Runtime, batch images at a time. Models that nas writes take raw
// pixels: give it a set as dataset.Load returns it. It stops with ctx's
// error between batches once ctx is done.
func modelAccuracy(ctx context.Context, rt *runner.Runtime, model []byte, set *dataset.Set, batch int) (float64, error) {
	k := set.Classes
	size := set.C * set.H * set.W
	hits := 0
	for i := 0; i < set.Len(); i += batch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n := min(batch, set.Len()-i)
		logits, _, err := rt.Infer(model, onnxgen.InputImage, set.X[i*size:(i+n)*size], []int64{int64(n), int64(set.C), int64(set.H), int64(set.W)}, onnxgen.OutputLogits)
		if err != nil {
			return 0, err
		}
		for j := range n {
			row, best := logits[j*k:(j+1)*k], 0
			for c, v := range row {
				if v > row[best] {
					best = c
				}
			}
			if int64(best) == set.Y[i+j] {
				hits++
			}
		}
	}
	return float64(hits) / float64(set.Len()), nil
}

// objective describes a cost objective (after defaults) in one line.
func objective(c search.CostObjective) string {
	s := fmt.Sprintf("objective: reward × (%s / %s)^%g", c.Metric, countFlag(c.Target), c.Weight)
	if c.Hard {
		s += " above the target"
	}
	return s
}

// earlyStop describes the early-stopping rule (after defaults) in one line.
func earlyStop(e search.EarlyStop) string {
	return fmt.Sprintf("early stopping: the median rule, once %d earlier trials reached an epoch", e.MinTrials)
}

// countUnits are the decimal suffixes of counts, largest first.
var countUnits = []struct {
	suffix string
	n      int64
}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}}

// humanCount writes a count to three significant digits: 7.53M, 104k, 96.
func humanCount(v int64) string {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', 3, 64), 64)
	for _, u := range countUnits {
		if f >= float64(u.n) {
			return strconv.FormatFloat(f/float64(u.n), 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

// countFlag is a count with an optional decimal suffix: 20M, 1.5G, 300k.
// String writes it exactly: with a suffix only when that takes at most
// two decimals and three digits before the point.
type countFlag int64

func (c countFlag) String() string {
	v := int64(c)
	for _, u := range countUnits {
		if v >= u.n && v < 1000*u.n && v%(u.n/100) == 0 {
			return strconv.FormatFloat(float64(v)/float64(u.n), 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

func (c *countFlag) Set(s string) error {
	num, mult := s, 1.0
	for _, u := range countUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), float64(u.n)
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*mult > math.MaxInt64 || v*mult != math.Trunc(v*mult) {
		return fmt.Errorf("%q is not a count (e.g. 20M, 1.5G, 300k, 12000)", s)
	}
	*c = countFlag(v * mult)
	return nil
}

func (c *countFlag) Type() string { return "count" }
