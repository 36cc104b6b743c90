package main

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// childFlags are the child-training flags that nas train and nas search share.
type childFlags struct {
	co      search.ChildOptions
	dataDir string
}

func (c *childFlags) register(f *pflag.FlagSet, d search.ChildOptions) {
	c.co = d
	f.StringVar(&c.co.Dataset, "data", d.Dataset, "data set: fashion-mnist, mnist, digits, cifar10, or a directory of IDX files or CIFAR-10 batches")
	f.StringVar(&c.dataDir, "data-dir", "", "where make data put the data sets (default: $NAS_DATA, else .data)")
	f.IntVar(&c.co.Epochs, "epochs", d.Epochs, "training epochs per child")
	f.IntVar(&c.co.Batch, "batch", d.Batch, "training batch size")
	f.Float64Var(&c.co.LR, "lr", d.LR, "SGD learning rate")
	f.BoolVar(&c.co.CosineLR, "cosine", d.CosineLR, "anneal the learning rate to zero (cosine)")
	f.Float64Var(&c.co.Momentum, "momentum", d.Momentum, "SGD momentum")
	f.BoolVar(&c.co.Nesterov, "nesterov", d.Nesterov, "Nesterov momentum")
	f.Float64Var(&c.co.WeightDecay, "wd", d.WeightDecay, "weight decay")
	f.BoolVar(&c.co.BatchNorm, "bn", d.BatchNorm, "batch normalisation after each convolution")
	f.IntVar(&c.co.TrainSize, "train-size", d.TrainSize, "training images per child (0: all of the training split)")
	f.IntVar(&c.co.ValSize, "val-size", d.ValSize, "validation images, split off the training images (0: a tenth, at most 5,000)")
	f.IntVar(&c.co.RewardK, "reward-k", d.RewardK, "reward = (max validation accuracy over the last k epochs)^p: k")
	f.Float64Var(&c.co.RewardP, "reward-p", d.RewardP, "... and p")
	f.Int64Var(&c.co.MemoryLimit, "memory-limit", d.MemoryLimit, "refuse children whose training needs more bytes (0: no limit)")
	f.Int64Var(&c.co.MaxParams, "max-params", d.MaxParams, "refuse children with more parameters (0: no limit)")
}

func (c *childFlags) root() string {
	if c.dataDir != "" {
		return c.dataDir
	}
	return dataset.DefaultRoot()
}

func (a *app) trainCmd() *cobra.Command {
	var (
		arch, out string
		seed      uint64
		quiet     bool
		rf        runtimeFlags
		cf        childFlags
	)
	cmd := &cobra.Command{
		Use:   "train --arch STR",
		Short: "Train one architecture and report its validation and test accuracy",
		Long: `Train one architecture from scratch with ONNX Runtime, print each epoch's validation accuracy, the
reward and the test accuracy, and with -o write the trained inference model (weights and input normalisation
included: it takes raw pixels).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ar, err := parseArch(arch, "")
			if err != nil {
				return err
			}
			co := cf.co.WithDefaults()
			if err := co.Validate(); err != nil {
				return usageError{err}
			}
			data, err := localeval.LoadData(cf.root(), co, seed)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			rt, err := rf.runtime(log)
			if err != nil {
				return err
			}
			in := onnxgen.Input{C: data.Train.C, H: data.Train.H, W: data.Train.W}
			classes := data.Train.Classes
			child, err := localeval.BuildChild(ar, in, classes, co, seed)
			if err != nil {
				return usageError{err}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "training %s\non %s: %d training, %d validation images; %d epochs, batch %d, lr %g\n",
				onnxgen.Format(ar), co.Dataset, data.Train.Len(), data.Val.Len(), co.Epochs, co.Batch, co.LR)
			var bar *progressbar.ProgressBar
			opts := localeval.TrainOptions(co, seed)
			if !quiet && isTerminal(a.stderr) {
				opts.Progress = func(p runner.Progress) {
					if bar == nil || p.Batch == 0 {
						bar = progressbar.NewOptions(p.Batches, progressbar.OptionSetWriter(a.stderr),
							progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", p.Epoch+1, co.Epochs)),
							progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(200e6))
					}
					bar.Describe(fmt.Sprintf("epoch %d/%d  loss %.4f  %.0f images/s", p.Epoch+1, co.Epochs, p.Loss, p.ImagesPerSec))
					_ = bar.Set(p.Batch + 1)
				}
			}
			res, err := rt.Train(cmd.Context(), child, data.Train, data.Val, opts)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			for i, acc := range res.ValAcc {
				fmt.Fprintf(w, "epoch %d: validation accuracy %.4f\n", i+1, acc)
			}
			if res.Status != runner.Done {
				return fmt.Errorf("train: the child %s: %s", res.Status, res.Reason)
			}
			testAcc, _, err := rt.Evaluate(cmd.Context(), child.Eval, res.Params, data.Test, co.Batch)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "reward %.4f  (max validation accuracy over the last %d epochs)^%g\n", res.Reward, co.RewardK, co.RewardP)
			fmt.Fprintf(w, "test accuracy %.4f on %d images  (%.1f s, %.0f images/s)\n", testAcc, data.Test.Len(), res.Seconds, res.ImagesPerSec)
			if out == "" {
				return nil
			}
			m, err := localeval.InferenceModel(ar, in, classes, co, res.Params, data.Norm, map[string]string{
				"nas.arch":                onnxgen.Format(ar),
				"nas.dataset":             co.Dataset,
				"nas.validation_accuracy": strconv.FormatFloat(bestOf(res.ValAcc), 'f', 4, 64),
				"nas.test_accuracy":       strconv.FormatFloat(testAcc, 'f', 4, 64),
				"nas.seed":                strconv.FormatUint(seed, 10),
				"nas.version":             version,
			})
			if err != nil {
				return err
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				return fmt.Errorf("train: %w", err)
			}
			if err := writeFileAtomic(out, b); err != nil {
				return err
			}
			fmt.Fprintf(w, "wrote %s (takes raw pixels, 0-255, as float [N,%d,%d,%d])\n", out, in.C, in.H, in.W)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "", "the architecture, e.g. 'kh3 kw3 f36 | kh3 kw3 f36 in0' (required)")
	f.Uint64Var(&seed, "seed", 1, "seed of the split, the initialisation and the shuffling")
	f.StringVarP(&out, "output", "o", "", "write the trained inference model here")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar (there is none when stderr is not a terminal)")
	rf.register(f)
	cf.register(f, search.ChildOptions{Dataset: "fashion-mnist", Epochs: 1, Batch: 64, LR: 0.05, Momentum: 0.9,
		WeightDecay: 1e-4, TrainSize: 10000, ValSize: 2000})
	_ = cmd.MarkFlagRequired("arch")
	return cmd
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
