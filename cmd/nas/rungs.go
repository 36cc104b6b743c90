package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// rungFlags are nas search's flags of the rungs (successive halving).
type rungFlags struct{ rungs, eta, max int }

func (f *rungFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.rungs, "rungs", 0, "multi-fidelity: after the sampling, R rungs of successive halving: rung r trains the best 1/eta of rung r-1 again "+
		"with eta^r times the training (more images, then more epochs); the highest rung's ranking picks the final candidates (0: off)")
	fs.IntVar(&f.eta, "eta", 0, "rungs: the halving rate eta (0: 3)")
	fs.IntVar(&f.max, "rung-max", 0, "rungs: at most this many trials promoted to rung 1 (0: eta^rungs)")
}

// options are the rungs' options the flags say (none with --rungs 0:
// then --eta and --rung-max are refused by Validate when set).
func (f *rungFlags) options() search.MultiFidelity {
	return search.MultiFidelity{Count: f.rungs, Eta: f.eta, Max: f.max}
}

// fidelityEvaluator trains the rungs' promotions and the final candidates
// in this process: a trial's Child.TrainSize says which training images
// (a seeded subset of the training split; 0: all of it), each set loaded
// once when first asked for, with the search's validation split (the split
// comes first, then the subset, so every fidelity is scored on the same
// held-out images).
type fidelityEvaluator struct {
	root string
	seed uint64
	rt   *runner.Runtime
	log  *slog.Logger
	mu   sync.Mutex
	evs  map[int]*localeval.Evaluator
}

func (f *fidelityEvaluator) evaluator(co search.ChildOptions) (*localeval.Evaluator, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev, ok := f.evs[co.TrainSize]; ok {
		return ev, nil
	}
	data, err := loadData(f.root, co, f.seed)
	if err != nil {
		return nil, err
	}
	ev, err := localeval.New(localeval.Config{Runtime: f.rt, Train: data.Train, Val: data.Val, Norm: data.Norm, Logger: f.log})
	if err != nil {
		return nil, err
	}
	f.evs[co.TrainSize] = ev
	return ev, nil
}

func (f *fidelityEvaluator) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	ev, err := f.evaluator(t.Child)
	if err != nil {
		return search.Outcome{}, err
	}
	return ev.Evaluate(ctx, t)
}

// Time is search.Timer: the probe of the evaluator of t's training
// images (the final phase's: the whole split).
func (f *fidelityEvaluator) Time(ctx context.Context, t search.Trial) (fixed, perEpoch time.Duration, err error) {
	ev, err := f.evaluator(t.Child)
	if err != nil {
		return 0, 0, err
	}
	return ev.Time(ctx, t)
}

// rungHeader describes the rungs (after defaults) in one line, or "".
func rungHeader(o search.Options, scale float64, images int) string {
	m := o.Rungs
	if !m.On() {
		return ""
	}
	s := fmt.Sprintf("rungs: %d of successive halving, eta %d, at most %d promoted to rung 1:", m.Count, m.Eta, m.Max)
	for r := 1; r <= m.Count; r++ {
		c := o.RungChild(r, scale)
		n := c.TrainSize
		if n == 0 {
			n = images
		}
		s += fmt.Sprintf(" rung %d %d images × %d epoch(s);", r, n, c.Epochs)
	}
	return s + " the strategy learns from the trials' rewards only"
}

// rungEvent prints an event of the rungs, or a shrink of the phases.
func (p *searchProgress) rungEvent(e search.Event) {
	if p.quiet {
		return
	}
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	switch e := e.(type) {
	case *search.Shrunk:
		if !p.json {
			fmt.Fprintf(p.w, "budget: %s\n", e.Note)
		}
	case *search.RungStarted:
		if !p.json {
			fmt.Fprintf(p.w, "rung %d %d/%d: trial %d's architecture\n", e.Rung.Rung, e.Rung.Rank+1, e.Of, e.Rung.Trial)
		}
	case *search.RungFinished:
		f := e.Rung
		if p.json {
			_ = json.NewEncoder(p.w).Encode(map[string]any{"rung": map[string]any{
				"rung": f.Rung, "trial": f.Trial, "rank": f.Rank, "arch": f.Arch, "status": f.Status.String(), "train_size": f.TrainSize,
				"epochs": f.Epochs, "val_acc": f.ValAcc, "seconds": f.Seconds, "error": f.Error, "top": e.Top}})
			return
		}
		top := ""
		if e.Top {
			top = "  (top so far)"
		}
		fmt.Fprintf(p.w, "rung %d %4d  %-9s val %.4f  %5.1fs  %s%s\n", f.Rung, f.Trial, f.Status, f.Accuracy(), f.Seconds, f.Arch, top)
		if f.Error != "" {
			fmt.Fprintf(p.w, "            %s\n", f.Error)
		}
	}
}

// topLine describes the best row of the highest rung after a search.
func topLine(w io.Writer, f search.RungRecord) {
	images := "the whole training split"
	if f.TrainSize > 0 {
		images = fmt.Sprintf("%d training images", f.TrainSize)
	}
	fmt.Fprintf(w, "top rung: trial %d's architecture at rung %d (%d epoch(s) on %s): validation accuracy %.4f\n",
		f.Trial, f.Rung, f.Epochs, images, f.Accuracy())
}

// showRungs lists a run's rungs (nas show).
func showRungs(w io.Writer, st search.RunState) error {
	if len(st.Rungs) == 0 {
		return nil
	}
	fmt.Fprintf(w, "rungs: %d promotion(s) over %d rung(s); the top one is marked\n", len(st.Rungs), st.Rungs[len(st.Rungs)-1].Rung)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rung\trank\ttrial\timages\tepochs\tstatus\tval acc\tseconds\t\tarchitecture")
	for _, f := range st.Rungs {
		status := f.Status.String()
		if f.Status == search.Running && f.Attempts == 0 {
			status = "pending"
		}
		mark := ""
		if f.Trial == st.RungModel && f.Status == search.Done && f.Rung == topRungOf(st, f.Trial) {
			mark = "top"
		}
		acc, secs := "-", "-"
		if f.Status != search.Running {
			acc, secs = fmt.Sprintf("%.4f", f.Accuracy()), fmt.Sprintf("%.1f", f.Seconds)
		}
		images := "all"
		if f.TrainSize > 0 {
			images = fmt.Sprint(f.TrainSize)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", f.Rung, f.Rank+1, f.Trial, images, f.Epochs, status, acc, secs, mark, f.Arch)
	}
	return tw.Flush()
}

// topRungOf is the highest rung where trial has a Done row (0: none).
func topRungOf(st search.RunState, trial int) int {
	top := 0
	for _, f := range st.Rungs {
		if f.Trial == trial && f.Status == search.Done {
			top = max(top, f.Rung)
		}
	}
	return top
}

// exportTop is the run's rung model for nas export without --trial (n <
// 0) when the run has no final model: the top rung row and its bytes from
// nas.db (verified against their checksum), nil when the run has none. It
// says on stderr when best.onnx is not a copy of it.
func exportTop(stderr io.Writer, dir string, n int) (*search.RungRecord, []byte, error) {
	if n >= 0 {
		return nil, nil, nil
	}
	st, err := search.ReadRunState(dir)
	if err != nil {
		return nil, nil, runError(dir, err)
	}
	if st.RungModel < 0 {
		return nil, nil, nil
	}
	idx, model, err := search.ReadRungModel(dir)
	if err != nil {
		return nil, nil, runError(dir, err)
	}
	top := topRungOf(st, idx)
	for _, f := range st.Rungs {
		if f.Trial == idx && f.Rung == top {
			warnStaleBest(stderr, dir, "the rungs' model", idx, model)
			return &f, model, nil
		}
	}
	return nil, nil, fmt.Errorf("export: %s: the rungs' model is trial %d's, which the rung table lacks (inconsistent: nas search --resume %s checks the run)",
		filepath.Join(dir, search.DBFile), idx, dir)
}
