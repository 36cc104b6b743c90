package main

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nas-project/nas/internal/atomicfile"
	"github.com/nas-project/nas/internal/dataroot"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// optimizerFlags are SGD's flags, with one set of defaults for every command
// that trains or compiles a training step (nas train, nas search, nas
// retrain's base, nas compile --train). Zero is a value: --momentum 0 is plain
// SGD, --wd 0 no weight decay.
type optimizerFlags struct {
	momentum, wd float64
	nesterov     bool
}

// The optimizer flags' defaults.
const (
	defaultMomentum    = search.DefaultMomentum
	defaultWeightDecay = 1e-4
)

func (o *optimizerFlags) register(f *pflag.FlagSet) {
	f.Float64Var(&o.momentum, "momentum", defaultMomentum, "SGD momentum (0: plain SGD)")
	f.BoolVar(&o.nesterov, "nesterov", false, "Nesterov momentum")
	f.Float64Var(&o.wd, "wd", defaultWeightDecay, "weight decay (0: none)")
}

// childFlags are the child-training flags that nas train and nas search share.
type childFlags struct {
	co      search.ChildOptions
	opt     optimizerFlags
	dataDir string
	// memAuto: --memory-limit auto (the default); co.MemoryLimit is 0
	// until memoryLimit resolves it.
	memAuto bool
}

// memoryLimit sets the child's memory limit when --memory-limit is auto,
// for parallel children trained at once, and says what it is.
func (c *childFlags) memoryLimit(co *search.ChildOptions, parallel int) string {
	if !c.memAuto {
		if co.MemoryLimit == 0 {
			return "no limit"
		}
		return humanBytes(co.MemoryLimit)
	}
	lim, how := autoMemoryLimit("", parallel)
	co.MemoryLimit = lim
	if lim == 0 {
		return how
	}
	return humanBytes(lim) + " (" + how + ")"
}

// options are the child options the flags say.
func (c *childFlags) options() search.ChildOptions {
	co := c.co
	co.Momentum, co.WeightDecay, co.Nesterov = search.Float(c.opt.momentum), c.opt.wd, c.opt.nesterov
	return co
}

func (c *childFlags) register(f *pflag.FlagSet, d search.ChildOptions) {
	d = cliChildDefaults(d)
	c.co = d
	f.StringVar(&c.co.Dataset, "data", d.Dataset, "data set: fashion-mnist, mnist, digits, cifar10, or a directory: IDX files, CIFAR-10 batches, or train/<class>/*.png and test/<class>/*.png")
	f.StringVar(&c.dataDir, "data-dir", "", "where make data put the data sets (default: $NAS_DATA, else .data)")
	f.IntVar(&c.co.Epochs, "epochs", d.Epochs, "training epochs per child")
	f.IntVar(&c.co.Batch, "batch", d.Batch, "training batch size")
	f.Float64Var(&c.co.LR, "lr", d.LR, "SGD learning rate")
	f.BoolVar(&c.co.CosineLR, "cosine", d.CosineLR, "anneal the learning rate to zero (cosine)")
	c.opt.register(f)
	f.BoolVar(&c.co.BatchNorm, "bn", d.BatchNorm, "batch normalisation after each convolution")
	f.IntVar(&c.co.TrainSize, "train-size", d.TrainSize, "training images per child (0: all of the training split)")
	f.IntVar(&c.co.ValSize, "val-size", d.ValSize, "validation images, split off the training images (0: a tenth, at most 5,000)")
	f.IntVar(&c.co.RewardK, "reward-k", d.RewardK, "reward = (max validation accuracy over the last k epochs)^p: k")
	f.Float64Var(&c.co.RewardP, "reward-p", d.RewardP, "... and p")
	c.memAuto = d.MemoryLimit == 0
	f.Var(memoryFlag{&c.co.MemoryLimit, &c.memAuto}, "memory-limit",
		"refuse (as oversized) children whose training nas estimates needs more memory: bytes (4G, 512M), 0 for no limit, or auto: "+
			"the cgroup's memory limit, else the available memory, less a quarter (at least 512 MiB) for nas, shared by the children trained at once")
	f.Int64Var(&c.co.MaxParams, "max-params", d.MaxParams, "refuse children with more parameters (0: no limit)")
}

func (c *childFlags) root() string { return dataRoot(c.dataDir) }

// dataRoot is the data directory a --data-dir flag names, else
// dataroot.Default ($NAS_DATA, else the checkout's .data).
func dataRoot(flag string) string {
	if flag != "" {
		return flag
	}
	return dataroot.Default()
}

func (a *app) trainCmd() *cobra.Command {
	var (
		arch, out string
		seed      uint64
		quiet     bool
		rf        runtimeFlags
		cf        childFlags
		lf        lmFlags
	)
	cmd := &cobra.Command{
		Use:   "train --arch STR",
		Short: "Train one architecture and report its validation and test accuracy",
		Long: `Train one architecture from scratch with ONNX Runtime, print each epoch's validation accuracy, the
reward and the test accuracy, and with -o write the trained inference model (weights and input normalisation
included: it takes raw pixels).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c, ok := onnxgen.CellByName(arch); ok {
				arch = c.String()
			}
			if k, _ := onnxgen.KindOf(arch); k == onnxgen.KindRNN {
				if err := firstErr(checkThreads(rf.threads), checkOutput(out)); err != nil {
					return err
				}
				return a.trainLM(cmd, arch, seed, out, rf, lf.options(cmd.Flags(), cf), cf.root())
			}
			ar, err := parseArch(arch, "")
			if err != nil {
				return err
			}
			if err := firstErr(checkDataFlag(cf.co), checkThreads(rf.threads), checkOutput(out)); err != nil {
				return err
			}
			co := cf.options().WithDefaults()
			if err := co.Validate(); err != nil {
				return usageError{err}
			}
			cf.memoryLimit(&co, 1)
			rt, err := rf.runtime(a.logger())
			if err != nil {
				return err
			}
			data, err := loadData(cf.root(), co, seed)
			if err != nil {
				return err
			}
			if err := checkTrainable(co, data); err != nil {
				return err
			}
			in := onnxgen.Input{C: data.Train.C, H: data.Train.H, W: data.Train.W}
			if err := checkSize(ar, in, data.Train.Classes, out != ""); err != nil {
				return err
			}
			tr, err := a.trainArch(cmd, rt, data, ar, co, seed, quiet)
			if err != nil {
				return err
			}
			if out == "" {
				return nil
			}
			return tr.write(cmd.OutOrStdout(), out, co, seed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "", "the architecture, e.g. 'kh3 kw3 f36 | kh3 kw3 f36 in0', or a recurrent cell ('rnn: base8 | ...', or by name: lstm, nascell) for a language model (required)")
	f.Uint64Var(&seed, "seed", 1, "seed of the split, the initialisation and the shuffling")
	f.StringVarP(&out, "output", "o", "", "write the trained inference model here")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar (there is none when stderr is not a terminal)")
	rf.register(f)
	cf.register(f, search.ChildOptions{Dataset: "fashion-mnist", Epochs: 1, Batch: 64, LR: 0.05, TrainSize: 10000, ValSize: 2000})
	lf.register(f)
	_ = cmd.MarkFlagRequired("arch")
	return cmd
}

// trained is one architecture trained by trainArch.
type trained struct {
	arch    onnxgen.Arch
	data    localeval.Data
	res     runner.Result
	testAcc float64
}

// trainArch trains ar on data with co, printing the progress, each epoch's
// validation accuracy, the reward and the test accuracy.
func (a *app) trainArch(cmd *cobra.Command, rt *runner.Runtime, data localeval.Data, ar onnxgen.Arch, co search.ChildOptions,
	seed uint64, quiet bool) (trained, error) {
	tr := trained{arch: ar, data: data}
	in := onnxgen.Input{C: data.Train.C, H: data.Train.H, W: data.Train.W}
	net, err := localeval.BuildChild(ar, in, data.Train.Classes, co, seed)
	if err != nil {
		return tr, usageError{err}
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "training %s\non %s: %d training, %d validation images; %d epochs, batch %d, lr %g, weight decay %g\n",
		onnxgen.Format(ar), co.Dataset, data.Train.Len(), data.Val.Len(), co.Epochs, co.Batch, co.LR, co.WeightDecay)
	var bar *progressbar.ProgressBar
	opts := localeval.TrainOptions(co, seed)
	if !quiet && isTerminal(a.stderr) {
		opts.Progress = func(p runner.Progress) {
			if bar == nil || p.Batch == 0 {
				bar = progressbar.NewOptions(p.Batches, progressbar.OptionSetWriter(a.stderr),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(200e6))
			}
			bar.Describe(fmt.Sprintf("epoch %d/%d  loss %.4f  %.0f images/s", p.Epoch+1, co.Epochs, p.Loss, p.ExamplesPerSec))
			_ = bar.Set(p.Batch + 1)
		}
	}
	tr.res, err = rt.Train(cmd.Context(), net, data.Train, data.Val, opts)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return tr, err
	}
	for i, acc := range tr.res.Scores {
		fmt.Fprintf(w, "epoch %d: validation accuracy %.4f\n", i+1, acc)
	}
	if tr.res.Status != runner.Done {
		return tr, fmt.Errorf("train: the child %s: %s", tr.res.Status, tr.res.Reason)
	}
	test, err := rt.Evaluate(cmd.Context(), net, tr.res.Params, data.Test, co.Batch)
	if err != nil {
		return tr, err
	}
	tr.testAcc = localeval.Accuracy(test)
	fmt.Fprintf(w, "reward %.4f  (max validation accuracy over the last %d epochs)^%g\n", localeval.Reward(tr.res.Scores, co.RewardK, co.RewardP), co.RewardK, co.RewardP)
	fmt.Fprintf(w, "test accuracy %.4f on %d images  (%.1f s, %.0f images/s)\n", tr.testAcc, data.Test.Len(), tr.res.Seconds, tr.res.ExamplesPerSec)
	return tr, nil
}

// write writes the trained inference model to path, with the input
// normalisation folded in and the metadata.
func (tr trained) write(w io.Writer, path string, co search.ChildOptions, seed uint64) error {
	in := onnxgen.Input{C: tr.data.Train.C, H: tr.data.Train.H, W: tr.data.Train.W}
	m, err := localeval.InferenceModel(tr.arch, in, tr.data.Train.Classes, co, tr.res.Params, tr.data.Norm, localeval.WithLabels(map[string]string{
		"nas.arch":                onnxgen.Format(tr.arch),
		"nas.dataset":             co.Dataset,
		"nas.validation_accuracy": strconv.FormatFloat(bestOf(tr.res.Scores), 'f', 4, 64),
		"nas.test_accuracy":       strconv.FormatFloat(tr.testAcc, 'f', 4, 64),
		"nas.seed":                strconv.FormatUint(seed, 10),
		"nas.version":             version,
	}, tr.data.Train.Labels))
	if err != nil {
		return err
	}
	b, err := marshalModel(m)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := atomicfile.Write(path, b); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (takes raw pixels, 0-255, as float [N,%d,%d,%d])\n", path, in.C, in.H, in.W)
	return nil
}

// bestOf is the largest of xs (NaN when there is none).
func bestOf(xs []float64) float64 {
	best := math.NaN()
	for _, x := range xs {
		if !(x <= best) {
			best = x
		}
	}
	return best
}
