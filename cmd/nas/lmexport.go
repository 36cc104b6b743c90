package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/atomicfile"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// exportLM is nas export of a cell search's trial: the stored best model,
// or any other trial retrained from its seed (which must give its recorded
// reward), with its test perplexity measured through ONNX Runtime and the
// trial's facts added to the metadata.
func (a *app) exportLM(ctx context.Context, w io.Writer, rt *runner.Runtime, dir, root, out string,
	opts search.Options, recs []search.Record, rec search.Record) error {
	co := opts.Child.LMDefaults()
	corpus, err := localeval.LoadText(root, co)
	if err != nil {
		return usageError{err}
	}
	var model []byte
	if best, _ := chooseTrial(recs, -1); best.Index == rec.Index {
		if model, err = storedBest(a.stderr, dir, rec); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "retraining trial %d from its seed\n", rec.Index)
		ev, err := localeval.NewLM(localeval.LMConfig{Runtime: rt, Corpus: corpus, Logger: a.logger()})
		if err != nil {
			return err
		}
		o, err := ev.Evaluate(ctx, search.Trial{Index: rec.Index, Iteration: rec.Iteration, Arch: rec.Arch, Seed: rec.Seed, Child: opts.Child})
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
	cell, err := onnxgen.ParseCell(rec.Arch)
	if err != nil {
		return err
	}
	ppl, te, err := localeval.LMTestPerplexity(ctx, rt, model, cell, co, corpus)
	if err != nil {
		return fmt.Errorf("export: measuring the test perplexity: %w", err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return fmt.Errorf("export: trial %d's model: %w", rec.Index, err)
	}
	meta := map[string]string{}
	for _, p := range m.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	meta["nas.trial"] = strconv.Itoa(rec.Index)
	meta["nas.reward"] = strconv.FormatFloat(rec.Reward, 'g', -1, 64)
	meta["nas.validation_perplexity"] = strconv.FormatFloat(1/bestOf(rec.ValAcc), 'f', 2, 64)
	meta["nas.test_perplexity"] = strconv.FormatFloat(ppl, 'f', 2, 64)
	meta["nas.seed"] = strconv.FormatUint(rec.Seed, 10)
	meta["nas.version"] = version
	onnxgen.SetMetadata(&m, meta)
	b, err := marshalModel(&m)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := atomicfile.Write(out, b); err != nil {
		return err
	}
	fmt.Fprintf(w, "trial %d: %s\nvalidation perplexity %.2f, test perplexity %.2f on %d tokens\nwrote %s\n",
		rec.Index, rec.Arch, 1/bestOf(rec.ValAcc), ppl, te, out)
	return nil
}

// trainLM is nas train of a recurrent cell: its language model on the
// corpus co names, each epoch's validation perplexity, the reward, and the
// test perplexity of the trained model through ONNX Runtime; with -o the
// model is written.
func (a *app) trainLM(cmd *cobra.Command, arch string, seed uint64, out string, rf runtimeFlags, co search.ChildOptions, root string) error {
	opts := search.Options{Kind: search.KindRNN, Trials: 1, Child: co}
	c, err := onnxgen.ParseCell(arch)
	if err != nil {
		return usageError{err}
	}
	opts.Space = fmt.Sprintf("cell%d", c.Base)
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	co = co.LMDefaults()
	corpus, err := localeval.LoadText(root, co)
	if err != nil {
		return usageError{err}
	}
	rt, err := rf.runtime(a.logger())
	if err != nil {
		return err
	}
	ev, err := localeval.NewLM(localeval.LMConfig{Runtime: rt, Corpus: corpus, Logger: a.logger()})
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "training %s\n%s\n", c.String(), lmChildLine(co, corpus))
	o, err := ev.Evaluate(cmd.Context(), search.Trial{Arch: c.String(), Seed: seed, Child: co})
	if err != nil {
		return err
	}
	for i, s := range o.ValAcc {
		fmt.Fprintf(w, "epoch %d: validation perplexity %.2f\n", i+1, 1/s)
	}
	if o.Status != search.Done {
		return fmt.Errorf("train: the child %s: %s", o.Status, o.Reason)
	}
	ppl, te, err := localeval.LMTestPerplexity(cmd.Context(), rt, o.Model, c, co, corpus)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reward %.4f  (c/ppl^%g, c = %g)\n", o.Reward, co.RewardP, localeval.RewardC(co, corpus.Level))
	fmt.Fprintf(w, "test perplexity %.2f on %d tokens  (%.1f s, %s parameters)\n", ppl, te, o.Seconds, humanCount(o.Params))
	if out == "" {
		return nil
	}
	if err := atomicfile.Write(out, o.Model); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", out)
	return nil
}
