package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/internal/text"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

// lmFlags are the flags of a cell search's language model (--space
// cell2/cell4/cell8); the child flags they share with CNNs (--data,
// --epochs, --batch, --lr, --train-size, --val-size, --reward-k,
// --reward-p, --max-params, --memory-limit) apply as the user set them, and
// take the language model's defaults otherwise.
type lmFlags struct {
	lm search.LMOptions
}

func (l *lmFlags) register(f *pflag.FlagSet) {
	f.IntVar(&l.lm.Hidden, "hidden", 0, "cell spaces: hidden size of the language model (0: 128)")
	f.IntVar(&l.lm.Embed, "embed", 0, "cell spaces: embedding size (0: the hidden size)")
	f.IntVar(&l.lm.Layers, "cell-layers", 0, "cell spaces: stacked cells, 1 or 2 (0: 1)")
	f.IntVar(&l.lm.Steps, "steps", 0, "cell spaces: BPTT length, tokens per window (0: 35)")
	f.Float64Var(&l.lm.Clip, "clip", 0, "cell spaces: bound of the gradient's global norm (0: 5)")
	f.IntVar(&l.lm.Vocab, "vocab", 0, "cell spaces: most words in a word-level vocabulary (0: 10,000)")
	f.Float64Var(&l.lm.RewardC, "reward-c", 0, "cell spaces: reward = c/perplexity^p: c (0: 80 at word level, 1 at character level)")
}

// options are the child options of a cell search: the shared child flags
// the user set, the LM flags, and zero (the LM defaults) for the rest.
func (l *lmFlags) options(f *pflag.FlagSet, cf childFlags) search.ChildOptions {
	co := search.ChildOptions{LM: l.lm, MemoryLimit: cf.co.MemoryLimit}
	set := func(name string, apply func()) {
		if f.Changed(name) {
			apply()
		}
	}
	set("data", func() { co.Dataset = cf.co.Dataset })
	set("epochs", func() { co.Epochs = cf.co.Epochs })
	set("batch", func() { co.Batch = cf.co.Batch })
	set("lr", func() { co.LR = cf.co.LR })
	set("train-size", func() { co.TrainSize = cf.co.TrainSize })
	set("val-size", func() { co.ValSize = cf.co.ValSize })
	set("reward-k", func() { co.RewardK = cf.co.RewardK })
	set("reward-p", func() { co.RewardP = cf.co.RewardP })
	set("max-params", func() { co.MaxParams = cf.co.MaxParams })
	set("cosine", func() { co.CosineLR = cf.co.CosineLR })
	set("bn", func() { co.BatchNorm = cf.co.BatchNorm })
	set("momentum", func() { co.Momentum = search.Float(cf.opt.momentum) })
	set("wd", func() { co.WeightDecay = cf.opt.wd })
	set("nesterov", func() { co.Nesterov = cf.opt.nesterov })
	return co
}

// lmRun is what searchLM needs of the search command's flags.
type lmRun struct {
	rf          runtimeFlags
	cf          childFlags
	wf          workerFlags
	quiet, json bool
	serveAt     string
	// storedInFlight is a resumed run's Options.InFlight (0: a new run).
	storedInFlight int
}

// searchLM runs (or resumes) a cell search: cfg.Options name a cell space,
// cfg.Options.Child the language model and its corpus.
func (a *app) searchLM(cmd *cobra.Command, cfg search.Config, r lmRun) error {
	if !cfg.Resume {
		if err := cfg.Options.Validate(); err != nil {
			return usageError{err}
		}
		if err := search.CheckNewRunDir(cfg.Dir); err != nil {
			return usageError{err}
		}
	}
	co := cfg.Options.Child
	if cfg.Resume {
		stored, _, err := readRun(cfg.Dir)
		if err != nil {
			return err
		}
		co = stored.Child
	}
	co = co.LMDefaults()
	corpus, err := localeval.LoadText(r.cf.root(), co)
	if err != nil {
		return usageError{err}
	}
	out := cmd.OutOrStdout()
	log := a.logger()
	local := childParallel(&cfg.Options, r.wf, &r.rf, r.storedInFlight)
	memory := ""
	if !cfg.Resume {
		memory = r.cf.memoryLimit(&cfg.Options.Child, local)
	}
	rt, err := r.rf.runtime(log)
	if err != nil {
		return err
	}
	completed := false
	if r.wf.on() {
		ev, stop, err := a.distEvaluator(cmd.Context(), r.wf, cfg.Dir, cfg.Resume, cfg.Options.Seed, r.rf, r.cf.root(), log, a.stderr)
		defer func() { stop(completed) }()
		if err != nil {
			return err
		}
		cfg.Evaluator = ev
	} else {
		ev, err := localeval.NewLM(localeval.LMConfig{Runtime: rt, Corpus: corpus, Logger: log})
		if err != nil {
			return err
		}
		cfg.Evaluator = ev
	}
	cfg.Logger = log
	p := &searchProgress{w: out, quiet: r.quiet, json: r.json, start: time.Now(), lm: true}
	if !r.quiet && !r.json && isTerminal(a.stderr) {
		p.barOut = a.stderr
	}
	cfg.Hook = p.hook
	if !r.quiet && !r.json {
		o := cfg.Options.WithDefaults()
		if cfg.Resume {
			fmt.Fprintf(out, "resuming %s\n", cfg.Dir)
		} else {
			fmt.Fprintf(out, "searching %s space with %s: %s; M=%d, %d at once with %d thread(s) each%s\n", o.Space, o.Strategy, budget(o), o.M, o.Parallel, r.rf.threads, inFlightNote(o))
			fmt.Fprintf(out, "memory limit per child: %s\n", memory)
		}
		if o.EarlyStop.On {
			fmt.Fprintln(out, earlyStop(o.EarlyStop))
		}
		fmt.Fprintln(out, lmChildLine(co, corpus))
	}
	p.total = cfg.Options.Trials
	ctx := cmd.Context()
	if r.serveAt != "" {
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		if err := a.serveBeside(sctx, a.stderr, cfg.Dir, r.serveAt); err != nil {
			return err
		}
	}
	sum, err := a.runSearch(ctx, cfg, p)
	completed = err == nil
	if err != nil {
		return err
	}
	pics := io.Discard
	if !r.json && !r.quiet {
		pics = out
	}
	if err := writePlot(cfg.Dir, filepath.Join(cfg.Dir, "rewards.png"), "status"); err != nil {
		return err
	}
	fmt.Fprintf(pics, "wrote %s\n", filepath.Join(cfg.Dir, "rewards.png"))
	if r.json {
		return nil
	}
	fmt.Fprintf(out, "\n%d trials in %s (stopped by the %s budget)\n", sum.Trials, cfg.Dir, sum.Stop)
	if sum.Best == nil {
		fmt.Fprintln(out, "no trial trained successfully")
		return nil
	}
	b := sum.Best
	if err := writeGraph(pics, a.stderr, cfg.Dir, *b, filepath.Join(cfg.Dir, "best.dot")); err != nil {
		return err
	}
	fmt.Fprintf(out, "best: trial %d, reward %.4f, validation perplexity %.2f, %s params\n  %s\n",
		b.Index, b.Reward, 1/bestOf(b.ValAcc), humanCount(b.Params), b.Arch)
	bestPath := filepath.Join(cfg.Dir, search.BestFile)
	model, err := os.ReadFile(bestPath)
	if err != nil {
		return bestModelError(cfg.Dir, err)
	}
	cell, err := onnxgen.ParseCell(b.Arch)
	if err != nil {
		return err
	}
	ppl, te, err := localeval.LMTestPerplexity(ctx, rt, model, cell, co, corpus)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return bestModelError(cfg.Dir, err)
	}
	fmt.Fprintf(out, "  test perplexity %.2f on %d tokens (%s, trained as in the search)\n", ppl, te, bestPath)
	return nil
}

// lmChildLine says how every child of a cell search trains.
func lmChildLine(co search.ChildOptions, c *text.Corpus) string {
	tr, va, _ := c.Tokens()
	if co.TrainSize > 0 {
		tr = min(tr, co.TrainSize)
	}
	if co.ValSize > 0 {
		va = min(va, co.ValSize)
	}
	return fmt.Sprintf("children: %s (%s level, %d symbols), %d training / %d validation tokens, %d epoch(s), %d streams × %d steps, hidden %d, %d cell layer(s), lr %g, clip %g",
		co.Dataset, c.Level, len(c.Vocab), tr, va, co.Epochs, co.Batch, co.LM.Steps, co.LM.Hidden, co.LM.Layers, co.LR, co.LM.Clip)
}
