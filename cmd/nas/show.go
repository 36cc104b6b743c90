package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nas-project/nas/search"
)

func (a *app) showCmd() *cobra.Command {
	var (
		top    int
		pareto bool
		by     string
	)
	cmd := &cobra.Command{
		Use:   "show DIR",
		Short: "Print a run's summary and its best trials (or, with --pareto, its accuracy/cost trade-off)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 1 {
				return usagef("show: -k %d: want at least 1 trial", top)
			}
			if by != search.ByFLOPs && by != search.ByParams {
				return usagef("show: --by %q: want %s or %s", by, search.ByFLOPs, search.ByParams)
			}
			opts, recs, err := readRun(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			counts := map[search.Status]int{}
			for _, r := range recs {
				counts[r.Status]++
			}
			lm := opts.Kind == search.KindRNN
			fmt.Fprintf(w, "run %s: strategy %s, space %s, seed %d, M=%d%s\n", args[0], opts.Strategy, opts.Space, opts.Seed, opts.M, inFlightNote(opts))
			if lm {
				co := opts.Child.LMDefaults()
				fmt.Fprintf(w, "children: language models on %s, %d epoch(s), %d streams × %d steps, hidden %d, %d cell layer(s), lr %g, clip %g, training tokens %d, validation tokens %d (0: all)\n",
					co.Dataset, co.Epochs, co.Batch, co.LM.Steps, co.LM.Hidden, co.LM.Layers, co.LR, co.LM.Clip, co.TrainSize, co.ValSize)
			} else {
				co := opts.Child.WithDefaults()
				fmt.Fprintf(w, "children: %s, %d epoch(s), batch %d, lr %g, train size %d, validation size %d\n",
					co.Dataset, co.Epochs, co.Batch, co.LR, co.TrainSize, co.ValSize)
			}
			if opts.Cost.On() {
				fmt.Fprintln(w, objective(opts.Cost))
			}
			if opts.EarlyStop.On {
				fmt.Fprintln(w, earlyStop(opts.EarlyStop))
			}
			fmt.Fprintf(w, "%d trials:", len(recs))
			for s := search.Running; s <= search.Stopped; s++ {
				if counts[s] > 0 {
					fmt.Fprintf(w, " %d %s", counts[s], s)
				}
			}
			fmt.Fprintln(w)
			if err := showWorkers(w, recs); err != nil {
				return err
			}
			st, err := search.ReadRunState(args[0])
			if err != nil {
				return runError(args[0], err)
			}
			if err := showRungs(w, st); err != nil {
				return err
			}
			if err := showFinals(w, st); err != nil {
				return err
			}
			done := make([]search.Record, 0, len(recs))
			for _, r := range recs {
				if r.Status == search.Done {
					done = append(done, r)
				}
			}
			sort.SliceStable(done, func(i, j int) bool { return done[i].Reward > done[j].Reward })
			if len(done) == 0 {
				fmt.Fprintln(w, "no trial is done yet")
				return nil
			}
			if pareto {
				return showPareto(w, recs, by)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			if lm {
				// Scores are 1/perplexity; flops are multiply-adds per token.
				fmt.Fprintln(tw, "rank\ttrial\treward\tval ppl\tparams\tMMACs/token\tseconds\tcell")
				for i, r := range done[:min(top, len(done))] {
					fmt.Fprintf(tw, "%d\t%d\t%.4f\t%.2f\t%d\t%.2f\t%.1f\t%s\n", i+1, r.Index, r.Reward, 1/bestOf(r.ValAcc), r.Params, float64(r.FLOPs)/1e6, r.Seconds, r.Arch)
				}
				return tw.Flush()
			}
			fmt.Fprintln(tw, "rank\ttrial\treward\tval acc\tparams\tMFLOPs\tseconds\tarchitecture")
			for i, r := range done[:min(top, len(done))] {
				fmt.Fprintf(tw, "%d\t%d\t%.4f\t%.4f\t%d\t%.1f\t%.1f\t%s\n", i+1, r.Index, r.Reward, bestOf(r.ValAcc), r.Params, float64(r.FLOPs)/1e6, r.Seconds, r.Arch)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&top, "top", "k", 10, "how many of the best trials to list")
	cmd.Flags().BoolVar(&pareto, "pareto", false, "list the Pareto front instead: the done trials no other beats on both validation accuracy and cost")
	cmd.Flags().StringVar(&by, "by", search.ByFLOPs, "--pareto's cost: flops (multiply-adds per image) or params")
	return cmd
}

// showPareto lists the run's Pareto front of validation accuracy against
// cost (search.ParetoFront), cheapest first, so a user who must deploy a
// small model can pick one (nas export --trial N) without a second search.
func showPareto(w io.Writer, recs []search.Record, by string) error {
	front, err := search.ParetoFront(recs, by)
	if err != nil {
		return err
	}
	what := "multiply-adds per image"
	if by == search.ByParams {
		what = "parameters"
	}
	fmt.Fprintf(w, "Pareto front of validation accuracy against %s: %d trial(s), cheapest first (nas export DIR --trial N -o model.onnx)\n", what, len(front))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trial	val acc	reward	params	MFLOPs	architecture")
	for _, r := range front {
		fmt.Fprintf(tw, "%d\t%.4f\t%.4f\t%d\t%.2f\t%s\n", r.Index, bestOf(r.ValAcc), r.Reward, r.Params, float64(r.FLOPs)/1e6, r.Arch)
	}
	return tw.Flush()
}

// showWorkers lists the worker processes that trained the run's trials
// (schema 4 records them): trials trained, failures among them, the last
// one's end. Nothing for a run trained in the search's process alone.
func showWorkers(w io.Writer, recs []search.Record) error {
	type stat struct {
		trials, failed int
		last           time.Time
	}
	by := map[string]*stat{}
	var names []string
	for _, r := range recs {
		if r.Worker == "" || r.Status == search.Running {
			continue
		}
		st := by[r.Worker]
		if st == nil {
			st = &stat{}
			by[r.Worker] = st
			names = append(names, r.Worker)
		}
		st.trials++
		if r.Status == search.Failed || r.Status == search.Diverged || r.Status == search.Oversized {
			st.failed++
		}
		if r.Finished.After(st.last) {
			st.last = r.Finished
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "worker\ttrials\tfailed\tlast result")
	for _, n := range names {
		st := by[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", n, st.trials, st.failed, st.last.Local().Format(time.DateTime))
	}
	return tw.Flush()
}
