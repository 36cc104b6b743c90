package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nas-project/nas/internal/atomicfile"
	"github.com/nas-project/nas/internal/modelfile"
	"github.com/nas-project/nas/internal/viz"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

func (a *app) plotCmd() *cobra.Command {
	var out, by string
	cmd := &cobra.Command{
		Use:   "plot DIR [-o rewards.png] [--by status|strategy]",
		Short: "Plot the reward of every trial of a run, with the best so far and a moving average",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if by != "status" && by != "strategy" {
				return usagef("plot: --by %q: want status or strategy", by)
			}
			var err error
			if out == "" {
				out = filepath.Join(args[0], "rewards.png")
				err = checkDefaultOutput("plot", out)
			} else {
				err = checkOutput(out)
			}
			if err != nil {
				return err
			}
			if err := writePlot(args[0], out, by); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the PNG to write (default DIR/rewards.png)")
	cmd.Flags().StringVar(&by, "by", "status", "colour the points by status or strategy")
	return cmd
}

// writePlot writes the reward plot of the run in dir to path.
func writePlot(dir, path, by string) error {
	opts, recs, err := readRun(dir)
	if err != nil {
		return err
	}
	pts := make([]viz.Point, 0, len(recs))
	for _, r := range recs {
		if r.Status == search.Running {
			continue
		}
		g := r.Status.String()
		if by == "strategy" {
			g = r.Strategy
		}
		pts = append(pts, viz.Point{Index: r.Index, Reward: r.Reward, Group: g})
	}
	var buf bytes.Buffer
	title := fmt.Sprintf("%s: %s on %s, space %s", filepath.Base(dir), opts.Strategy, opts.Child.WithDefaults().Dataset, opts.Space)
	if err := viz.PlotRewards(pts, title, &buf); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

func (a *app) graphCmd() *cobra.Command {
	var (
		trial int
		out   string
	)
	cmd := &cobra.Command{
		Use:   "graph DIR [--trial N] [-o FILE.dot]",
		Short: "Draw a trial's architecture (default: the best) as Graphviz DOT, and SVG when dot is installed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := firstErr(checkTrialFlag(cmd, trial), checkOutput(out)); err != nil {
				return err
			}
			_, _, rec, err := readTrial(args[0], defaultTrial(args[0], trial))
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join(args[0], fmt.Sprintf("trial%d.dot", rec.Index))
				if err := checkDefaultOutput("graph", out); err != nil {
					return err
				}
			}
			return writeGraph(cmd.OutOrStdout(), a.stderr, args[0], rec, out)
		},
	}
	cmd.Flags().IntVar(&trial, "trial", -1, "the trial to draw (default: the final model's, else the best)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the DOT file to write (default DIR/trialN.dot); the SVG goes beside it")
	return cmd
}

// writeGraph writes the picture of rec's architecture as DOT to path, and as
// SVG beside it when Graphviz is installed (saying so on stderr when not).
// The input size and classes are those of the run's best model, as nas.db
// holds it (best.onnx is a copy).
func writeGraph(w, stderr io.Writer, dir string, rec search.Record, path string) error {
	if k, _ := onnxgen.KindOf(rec.Arch); k == onnxgen.KindRNN {
		c, err := onnxgen.ParseCell(rec.Arch)
		if err != nil {
			return err
		}
		dot, err := viz.CellDot(c, fmt.Sprintf("trial %d: reward %.4f, validation perplexity %.2f", rec.Index, rec.Reward, 1/bestOf(rec.ValAcc)))
		if err != nil {
			return err
		}
		return writeDot(w, stderr, dot, path)
	}
	ar, err := onnxgen.Parse(rec.Arch)
	if err != nil {
		return err
	}
	_, model, err := search.ReadBestModel(dir)
	if err != nil {
		return runError(dir, err)
	}
	if model == nil {
		return fmt.Errorf("graph: %s holds no best model (no trial is done)", filepath.Join(dir, search.DBFile))
	}
	info, err := modelfile.Read(model)
	if err != nil {
		return fmt.Errorf("%s: the best model: %w", filepath.Join(dir, search.DBFile), err)
	}
	in, classes := info.Input, info.Classes
	dot, err := viz.Dot(ar, in, classes, fmt.Sprintf("trial %d: reward %.4f, validation accuracy %.4f", rec.Index, rec.Reward, bestOf(rec.ValAcc)))
	if err != nil {
		return err
	}
	return writeDot(w, stderr, dot, path)
}

// writeDot writes dot to path, and as SVG beside it when Graphviz is
// installed (saying so on stderr when not).
func writeDot(w, stderr io.Writer, dot, path string) error {
	if err := atomicfile.Write(path, []byte(dot)); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", path)
	svg, err := viz.RenderSVG(dot)
	if errors.Is(err, viz.ErrNoGraphviz) {
		fmt.Fprintf(stderr, "nas: %v: wrote only the DOT file\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	svgPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".svg"
	if err := atomicfile.Write(svgPath, svg); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", svgPath)
	return nil
}
