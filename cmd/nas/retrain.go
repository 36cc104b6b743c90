package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

func (a *app) retrainCmd() *cobra.Command {
	var (
		trial     int
		epochs    int
		lrs, wds  []float64
		cosine    bool
		trainSize int
		out, root string
		quiet     bool
		rf        runtimeFlags
	)
	cmd := &cobra.Command{
		Use:   "retrain DIR [--trial N] [--epochs E] [--lr 0.05,0.1] [--wd 1e-4,5e-4]",
		Short: "Train the search's best (or a chosen) architecture from scratch, longer, and export it",
		Long: `The paper's last step: train the chosen architecture from scratch on the whole training split for
longer, for every learning rate and weight decay of the grid, keep the setting with the best validation
accuracy, report its test accuracy and write its model (default DIR/retrained.onnx). The other child options
(data set, batch, momentum, batch norm, validation size) are the run's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := firstErr(checkTrialFlag(cmd, trial), checkThreads(rf.threads)); err != nil {
				return err
			}
			opts, _, rec, err := readTrial(dir, trial)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join(dir, "retrained.onnx")
			}
			if err := checkOutput(out); err != nil {
				return err
			}
			ar, err := onnxgen.Parse(rec.Arch)
			if err != nil {
				return err
			}
			root = dataRoot(root)
			co := opts.Child.WithDefaults()
			co.Epochs, co.TrainSize, co.CosineLR = epochs, trainSize, cosine
			rt, err := rf.runtime(a.logger())
			if err != nil {
				return err
			}
			data, err := loadData(root, co, opts.Seed)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "retraining trial %d (search reward %.4f)\n", rec.Index, rec.Reward)
			var best trained
			var bestCO search.ChildOptions
			found := false
			for _, lr := range lrs {
				for _, wd := range wds {
					c := co
					c.LR, c.WeightDecay = lr, wd
					if err := c.Validate(); err != nil {
						return usageError{err}
					}
					tr, err := a.trainArch(cmd, rt, data, ar, c, rec.Seed, quiet)
					if err != nil {
						fmt.Fprintf(w, "lr %g, weight decay %g: %v\n", lr, wd, err)
						if cmd.Context().Err() != nil {
							return err
						}
						continue
					}
					if !found || bestOf(tr.res.Scores) > bestOf(best.res.Scores) {
						best, bestCO, found = tr, c, true
					}
				}
			}
			if !found {
				return fmt.Errorf("retrain: no setting of the grid trained")
			}
			fmt.Fprintf(w, "best setting: lr %g, weight decay %g: validation accuracy %.4f, test accuracy %.4f\n",
				bestCO.LR, bestCO.WeightDecay, bestOf(best.res.Scores), best.testAcc)
			return best.write(w, out, bestCO, rec.Seed)
		},
	}
	f := cmd.Flags()
	f.IntVar(&trial, "trial", -1, "the trial to retrain (default: the best)")
	f.IntVar(&epochs, "epochs", 10, "training epochs")
	f.Float64SliceVar(&lrs, "lr", []float64{0.05}, "learning rates of the grid")
	f.Float64SliceVar(&wds, "wd", []float64{1e-4}, "weight decays of the grid")
	f.BoolVar(&cosine, "cosine", true, "anneal the learning rate to zero (cosine)")
	f.IntVar(&trainSize, "train-size", 0, "training images (0: the whole training split)")
	f.StringVarP(&out, "output", "o", "", "write the model here (default DIR/retrained.onnx)")
	f.StringVar(&root, "data-dir", "", "where make data put the data sets (default: $NAS_DATA, else .data)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	rf.register(f)
	return cmd
}
