package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// The final training's defaults in nas search (the library's zero value has
// none): README's "The final training" has the measurement behind them.
const (
	defaultFinalK      = 2
	defaultFinalEpochs = 3
	defaultFinalShare  = 0.5
)

// finalFlags are nas search's flags of the final phase.
type finalFlags struct {
	k, epochs int
	share     float64
}

func (f *finalFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.k, "final-k", defaultFinalK, "after the sampling, train the best k distinct architectures again on the whole training split, "+
		"keep the best by validation accuracy as best.onnx (0: no final training; best.onnx is then the best trial's)")
	fs.IntVar(&f.epochs, "final-epochs", defaultFinalEpochs, "epochs of each final training (cosine learning rate); with --duration at most, "+
		"fewer (then fewer candidates first) when they are predicted not to fit the time left")
	fs.Float64Var(&f.share, "final-share", defaultFinalShare, "with --duration: the most of it kept for the rungs and the final training "+
		"(the sampling gets the rest, at least; 0: no cap, the whole predicted time is kept)")
}

// finalShare is the search's Options.FinalShare: the flag's with a
// duration and a phase after the sampling to keep it for, else 0 (a
// default that does not apply is not stored).
func (f *finalFlags) finalShare(o search.Options) float64 {
	if o.Duration <= 0 || (!o.Final.On() && !o.Rungs.On()) {
		return 0
	}
	return f.share
}

// options are the final phase's options the flags say (none with k 0).
func (f *finalFlags) options() search.FinalTraining {
	if f.k == 0 {
		return search.FinalTraining{}
	}
	return search.FinalTraining{K: f.k, Epochs: f.epochs}
}

// finalSetup wires the phases after the sampling into cfg when the run's
// options (a new run's, or a resumed run's stored ones) have them: an
// in-process evaluator for the rungs and the final candidates
// (fidelityEvaluator: the training images each asks for, the same
// validation split as the search's: the split comes first, then the
// subset of the training images) and the scale of the whole training set
// over a search child's, data's. It returns the header lines ("" when
// off).
func finalSetup(cfg *search.Config, root string, rt *runner.Runtime, data localeval.Data, log *slog.Logger) (string, error) {
	o := cfg.Options.WithDefaults()
	if cfg.Resume {
		stored, _, err := readRun(cfg.Dir)
		if err != nil {
			return "", err
		}
		o = stored
	}
	if !o.Final.On() && !o.Rungs.On() {
		return "", nil
	}
	fe := &fidelityEvaluator{root: root, seed: o.Seed, rt: rt, log: log, evs: map[int]*localeval.Evaluator{}}
	fc := o.FinalChild()
	full, err := loadData(root, fc, o.Seed)
	if err != nil {
		return "", err
	}
	ev, err := localeval.New(localeval.Config{Runtime: rt, Train: full.Train, Val: full.Val, Norm: full.Norm, Logger: log})
	if err != nil {
		return "", err
	}
	fe.evs[0] = ev
	cfg.FinalScale = float64(full.Train.Len()) / float64(data.Train.Len())
	budget := ""
	if o.Duration > 0 {
		budget = " (its time is kept out of --duration: predicted from the trials' times while sampling, at most --final-share of it, then from a timed probe of each candidate)"
	}
	header := rungHeader(o, cfg.FinalScale, full.Train.Len())
	if o.Rungs.On() {
		cfg.RungEvaluator = fe
		if !o.Final.On() {
			return header + budget, nil
		}
		header += "\n"
	}
	cfg.FinalEvaluator = fe
	return header + fmt.Sprintf("final training: the best %d architecture(s) again, %d epochs each on %d training images, cosine; picked by validation accuracy on the %d held out%s",
		o.Final.K, fc.Epochs, full.Train.Len(), full.Val.Len(), budget), nil
}

// finalEvent prints an event of the final phase.
func (p *searchProgress) finalEvent(e search.Event) {
	if p.quiet {
		return
	}
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	switch e := e.(type) {
	case *search.FinalStarted:
		if !p.json {
			fmt.Fprintf(p.w, "final training %d/%d: trial %d's architecture\n", e.Final.Rank+1, e.Of, e.Final.Trial)
		}
	case *search.FinalFinished:
		f := e.Final
		if p.json {
			_ = json.NewEncoder(p.w).Encode(map[string]any{"final": map[string]any{
				"trial": f.Trial, "rank": f.Rank, "arch": f.Arch, "status": f.Status.String(), "val_acc": f.ValAcc,
				"seconds": f.Seconds, "error": f.Error, "chosen": e.Chosen}})
			return
		}
		chosen := ""
		if e.Chosen {
			chosen = "  (best so far)"
		}
		fmt.Fprintf(p.w, "final %4d  %-9s val %.4f  %5.1fs  %s%s\n", f.Trial, f.Status, f.Accuracy(), f.Seconds, f.Arch, chosen)
		if f.Error != "" {
			fmt.Fprintf(p.w, "            %s\n", f.Error)
		}
	}
}

// finalLine describes the chosen final candidate after a search.
func finalLine(w io.Writer, f search.FinalRecord, o search.Options) {
	of := "the search's"
	if o.Rungs.On() {
		of = "the highest rung's ranking"
	}
	fmt.Fprintf(w, "final: trial %d's architecture trained %d epochs on the whole training split: validation accuracy %.4f (rank %d of %s)\n",
		f.Trial, finalEpochs(f, o), f.Accuracy(), f.Rank+1, of)
}

// finalEpochs is how many epochs candidate f trained: as recorded (fewer
// than the options' when the phase was shrunk to fit the duration), the
// options' for a row of schema version 5.
func finalEpochs(f search.FinalRecord, o search.Options) int {
	if f.Epochs > 0 {
		return f.Epochs
	}
	return o.FinalChild().Epochs
}

// showFinals lists a run's final phase (nas show).
func showFinals(w io.Writer, st search.RunState) error {
	if len(st.Finals) == 0 {
		return nil
	}
	fmt.Fprintf(w, "final training: %d candidate(s), %d epochs each on the whole training split; the chosen one is best.onnx\n",
		len(st.Finals), finalEpochs(st.Finals[0], st.Options))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rank\ttrial\tstatus\tval acc\tseconds\t\tarchitecture")
	for _, f := range st.Finals {
		status := f.Status.String()
		if f.Status == search.Running && f.Attempts == 0 {
			status = "pending"
		}
		mark := ""
		if f.Trial == st.FinalModel {
			mark = "chosen"
		}
		acc, secs := "-", "-"
		if f.Status != search.Running {
			acc, secs = fmt.Sprintf("%.4f", f.Accuracy()), fmt.Sprintf("%.1f", f.Seconds)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", f.Rank+1, f.Trial, status, acc, secs, mark, f.Arch)
	}
	return tw.Flush()
}

// defaultTrial is the trial a command that takes --trial works on when none
// is given (n < 0): the chosen final candidate's when the run has one (its
// architecture is best.onnx's), else the rungs' top one's, else n (the
// best trial).
func defaultTrial(dir string, n int) int {
	if n >= 0 {
		return n
	}
	st, err := search.ReadRunState(dir)
	switch {
	case err != nil:
		return n
	case st.FinalModel >= 0:
		return st.FinalModel
	case st.RungModel >= 0:
		return st.RungModel
	}
	return n
}

// recsOf is the trial table of the run in dir (nil when it cannot be read).
func recsOf(dir string) []search.Record {
	_, recs, _ := search.ReadRun(dir)
	return recs
}

// exportFinal is the run's final model for nas export without --trial (n <
// 0): its candidate and its bytes from nas.db (verified against their
// checksum), nil when the run has none. It says on stderr when best.onnx is
// not a copy of it.
func exportFinal(stderr io.Writer, dir string, n int) (*search.FinalRecord, []byte, error) {
	if n >= 0 {
		return nil, nil, nil
	}
	st, err := search.ReadRunState(dir)
	if err != nil {
		return nil, nil, runError(dir, err)
	}
	if st.FinalModel < 0 {
		return nil, nil, nil
	}
	idx, model, err := search.ReadFinalModel(dir)
	if err != nil {
		return nil, nil, runError(dir, err)
	}
	var f *search.FinalRecord
	for _, r := range st.Finals {
		if r.Trial == idx {
			f = &r
		}
	}
	if f == nil {
		return nil, nil, fmt.Errorf("export: %s: the final model is trial %d's, which the final table lacks (inconsistent: nas search --resume %s checks the run)",
			filepath.Join(dir, search.DBFile), idx, dir)
	}
	warnStaleBest(stderr, dir, "the final model", idx, model)
	return f, model, nil
}
