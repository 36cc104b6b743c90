package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/atomicfile"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/search"
)

func (a *app) exportCmd() *cobra.Command {
	var (
		trial   int
		out     string
		dataDir string
		rf      runtimeFlags
	)
	cmd := &cobra.Command{
		Use:   "export DIR -o model.onnx",
		Short: "Export a trial's trained model as ONNX, with its accuracy",
		Long: `Export the best trial of the run in DIR (or --trial N) as an ONNX inference model (IR 8, opset 17) with its
trained weights and the input normalisation folded in: input "image" float [N,C,H,W] of raw pixels (0-255),
output "logits" float [N,classes]. The model's test accuracy is measured through ONNX Runtime on the data set's
test split and written with the architecture, data set, validation accuracy, seed and nas version into its
metadata_props. Without --trial, a run with a final training exports its final model (the chosen candidate,
trained longer on the whole training split: best.onnx's, nas.db's final_model; metadata nas.final_epochs);
else the best trial's model, the one the search kept. Any other trial (--trial N) is exported as the search
trained it: the best trial's stored model, or retrained from its seed, which gives the same weights (training
is deterministic).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("export: give -o FILE")
			}
			if err := firstErr(checkTrialFlag(cmd, trial), checkThreads(rf.threads), checkOutput(out)); err != nil {
				return err
			}
			dir := args[0]
			opts, recs, rec, err := readTrial(dir, defaultTrial(dir, trial))
			if err != nil {
				return err
			}
			final, finalModel, err := exportFinal(a.stderr, dir, trial)
			if err != nil {
				return err
			}
			var top *search.RungRecord
			if final == nil {
				if top, finalModel, err = exportTop(a.stderr, dir, trial); err != nil {
					return err
				}
			}
			log := a.logger()
			rt, err := rf.runtime(log)
			if err != nil {
				return err
			}
			root := dataRoot(dataDir)
			w := cmd.OutOrStdout()
			if opts.Kind == search.KindRNN {
				return a.exportLM(cmd.Context(), w, rt, dir, root, out, opts, recs, rec)
			}
			var model []byte
			// fromBest names best.onnx in the errors of reading and running
			// the model when the model is that file.
			fromBest := func(err error) error { return err }
			val := bestOf(rec.ValAcc)
			if final != nil {
				model, val = finalModel, final.Accuracy()
				fromBest = func(err error) error {
					return fmt.Errorf("%s: the final model (trial %d): %w", filepath.Join(dir, search.DBFile), final.Trial, err)
				}
				fmt.Fprintf(w, "the final model: trial %d's architecture trained %d epochs on the whole training split\n", final.Trial, finalEpochs(*final, opts))
			} else if top != nil {
				model, val = finalModel, top.Accuracy()
				fromBest = func(err error) error {
					return fmt.Errorf("%s: the rungs' model (trial %d): %w", filepath.Join(dir, search.DBFile), top.Trial, err)
				}
				topLine(w, *top)
			} else if best, _ := chooseTrial(recs, -1); best.Index == rec.Index {
				m, err := storedBest(a.stderr, dir, rec)
				if err != nil {
					return err
				}
				model = m
				fromBest = func(err error) error {
					return fmt.Errorf("%s: the best model (trial %d): %w", filepath.Join(dir, search.DBFile), rec.Index, err)
				}
			} else {
				fmt.Fprintf(w, "retraining trial %d from its seed\n", rec.Index)
				data, err := loadData(root, opts.Child, opts.Seed)
				if err != nil {
					return err
				}
				ev, err := localeval.New(localeval.Config{Runtime: rt, Train: data.Train, Val: data.Val, Norm: data.Norm, Logger: log})
				if err != nil {
					return err
				}
				o, err := ev.Evaluate(cmd.Context(), search.Trial{Index: rec.Index, Iteration: rec.Iteration, Arch: rec.Arch, Seed: rec.Seed, Child: opts.Child})
				if err != nil {
					return err
				}
				if o.Status != search.Done {
					return fmt.Errorf("export: retraining trial %d: %s: %s", rec.Index, o.Status, o.Reason)
				}
				if o.Reward != rec.Reward {
					return fmt.Errorf("export: retraining trial %d gave reward %v, the run recorded %v: the run's data or nas version differ", rec.Index, o.Reward, rec.Reward)
				}
				model = o.Model
			}
			test, err := loadTest(opts.Child.WithDefaults().Dataset, root)
			if err != nil {
				return err
			}
			var m onnxpb.ModelProto
			if err := proto.Unmarshal(model, &m); err != nil {
				return fromBest(fmt.Errorf("export: trial %d's model: %w", rec.Index, err))
			}
			acc, err := modelAccuracy(cmd.Context(), rt, model, test, 256)
			if err != nil {
				if cmd.Context().Err() != nil {
					return fmt.Errorf("export: measuring the test accuracy: %w", err)
				}
				return fromBest(err)
			}
			meta := map[string]string{
				"nas.arch":                rec.Arch,
				"nas.dataset":             opts.Child.WithDefaults().Dataset,
				"nas.trial":               strconv.Itoa(rec.Index),
				"nas.reward":              strconv.FormatFloat(rec.Reward, 'g', -1, 64),
				"nas.validation_accuracy": strconv.FormatFloat(val, 'f', 4, 64),
				"nas.test_accuracy":       strconv.FormatFloat(acc, 'f', 4, 64),
				"nas.seed":                strconv.FormatUint(rec.Seed, 10),
				"nas.version":             version,
			}
			if final != nil {
				meta["nas.final_epochs"] = strconv.Itoa(finalEpochs(*final, opts))
			}
			if top != nil {
				meta["nas.rung"] = strconv.Itoa(top.Rung)
				meta["nas.rung_epochs"] = strconv.Itoa(top.Epochs)
				meta["nas.rung_train_size"] = strconv.Itoa(top.TrainSize)
			}
			onnxgen.SetMetadata(&m, localeval.WithLabels(meta, test.Labels))
			b, err := marshalModel(&m)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := atomicfile.Write(out, b); err != nil {
				return err
			}
			fmt.Fprintf(w, "trial %d: %s\nvalidation accuracy %.4f, test accuracy %.4f on %d images\nwrote %s\n",
				rec.Index, rec.Arch, val, acc, test.Len(), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&trial, "trial", -1, "the trial to export, as the search trained it (default: the final model, else the best trial)")
	f.StringVarP(&out, "output", "o", "", "write the model here")
	f.StringVar(&dataDir, "data-dir", "", "where make data put the data sets (default: $NAS_DATA, else .data)")
	rf.register(f)
	return cmd
}

// storedBest is the run's best model as nas.db stores it, verified against
// its checksum, which must be rec's. best.onnx is a copy, stale when a
// search died between committing a new best and copying it: storedBest
// says so on stderr.
func storedBest(stderr io.Writer, dir string, rec search.Record) ([]byte, error) {
	idx, m, err := search.ReadBestModel(dir)
	if err != nil {
		return nil, runError(dir, err)
	}
	db := filepath.Join(dir, search.DBFile)
	if idx != rec.Index {
		return nil, fmt.Errorf("export: %s: the stored best model is trial %d's, the trial table's best is trial %d (inconsistent: nas search --resume %s checks the run)",
			db, idx, rec.Index, dir)
	}
	warnStaleBest(stderr, dir, "the best model", idx, m)
	return m, nil
}

// warnStaleBest says on stderr when dir's best.onnx is not a copy of
// model, the model (what: "the best model", "the final model", ...) of
// trial idx that nas.db holds and nas export exports instead.
func warnStaleBest(stderr io.Writer, dir, what string, idx int, model []byte) {
	bestPath := filepath.Join(dir, search.BestFile)
	if b, err := os.ReadFile(bestPath); err != nil || !bytes.Equal(b, model) {
		fmt.Fprintf(stderr, "nas: %s differs from %s in %s (trial %d): exporting the database's; nas search --resume %s writes %s again\n",
			bestPath, what, filepath.Join(dir, search.DBFile), idx, dir, search.BestFile)
	}
}

// readTrial reads the run in dir and chooses trial n of it (chooseTrial);
// an unknown or unfinished trial is a usage error.
func readTrial(dir string, n int) (search.Options, []search.Record, search.Record, error) {
	opts, recs, err := readRun(dir)
	if err != nil {
		return opts, nil, search.Record{}, err
	}
	rec, err := chooseTrial(recs, n)
	if err != nil {
		return opts, recs, rec, usageError{err}
	}
	return opts, recs, rec, nil
}

// chooseTrial is trial n of recs, or the best done trial when n < 0 (highest
// reward, lowest index on ties). A duplicate stands for the trial it reuses.
func chooseTrial(recs []search.Record, n int) (search.Record, error) {
	if n < 0 {
		best := -1
		for i, r := range recs {
			if r.Status == search.Done && (best < 0 || r.Reward > recs[best].Reward) {
				best = i
			}
		}
		if best < 0 {
			return search.Record{}, fmt.Errorf("export: the run has no done trial")
		}
		return recs[best], nil
	}
	for _, r := range recs {
		if r.Index != n {
			continue
		}
		if r.Status == search.Duplicate {
			return chooseTrial(recs, r.DupOf)
		}
		if r.Status != search.Done {
			return search.Record{}, fmt.Errorf("export: trial %d is %s, not done: %s", n, r.Status, r.Error)
		}
		return r, nil
	}
	return search.Record{}, fmt.Errorf("export: the run has no trial %d (it has %d)", n, len(recs))
}
