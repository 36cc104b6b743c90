package localeval

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/text"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
	"github.com/nas-project/nas/search"
)

// LMConfig configures an LMEvaluator.
type LMConfig struct {
	// Runtime trains the children. Required.
	Runtime *runner.Runtime
	// Corpus is the tokenised text (see LoadText): the children train on
	// its Train split and are scored on its Valid split. Required; only
	// read.
	Corpus *text.Corpus
	// Logger receives a line per trial; nil: discarded.
	Logger *slog.Logger
}

// LMEvaluator trains language models around searched cells (the rnn kind)
// in this process. It implements search.Evaluator.
type LMEvaluator struct {
	cfg LMConfig
}

var _ search.Evaluator = (*LMEvaluator)(nil)

// NewLM checks cfg and returns an LMEvaluator.
func NewLM(cfg LMConfig) (*LMEvaluator, error) {
	switch {
	case cfg.Runtime == nil:
		return nil, fmt.Errorf("localeval: no runtime")
	case cfg.Corpus == nil || len(cfg.Corpus.Train) == 0 || len(cfg.Corpus.Valid) == 0:
		return nil, fmt.Errorf("localeval: no corpus, or one without training or validation tokens")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &LMEvaluator{cfg: cfg}, nil
}

// LMOptions maps a child's options to the compiler's, for a corpus of
// vocab symbols.
func LMOptions(co search.ChildOptions, vocab int, seed uint64) onnxgen.LMOptions {
	co = co.LMDefaults()
	return onnxgen.LMOptions{Vocab: vocab, Embed: co.LM.Embed, Hidden: co.LM.Hidden, Layers: co.LM.Layers,
		Steps: co.LM.Steps, Batch: co.Batch, EvalBatch: co.Batch, Clip: float32(co.LM.Clip), Seed: seed}
}

// RewardC is the reward's scale c for a corpus: co.LM.RewardC, else 80 at
// word level (the paper's) and 1 at character level.
func RewardC(co search.ChildOptions, level text.Level) float64 {
	switch {
	case co.LM.RewardC > 0:
		return co.LM.RewardC
	case level == text.Char:
		return 1
	}
	return 80
}

// InvPerplexity is an LM's score over a pass: 1/perplexity = exp(−mean
// cross-entropy per token), the geometric mean of the probabilities the
// model gave the right tokens; in (0, 1], higher is better, as an accuracy.
func InvPerplexity(p runner.Pass) float64 {
	return math.Exp(-p.Metrics[onnxgen.MetricLoss])
}

// LMReward is the paper's reward c/ppl^p over the best score of the last
// k epochs (scores are 1/ppl): c·Reward(scores, k, p).
func LMReward(scores []float64, k int, p, c float64) float64 { return c * Reward(scores, k, p) }

// Evaluate trains and scores one trial: the cell's language model on the
// corpus' training tokens (co.TrainSize of them, 0: all), in windows of
// co.LM.Steps over co.Batch streams, its hidden state carried between
// windows; after every epoch the validation perplexity over co.ValSize
// validation tokens (0: all). Outcome.ValAcc holds 1/perplexity per epoch.
func (e *LMEvaluator) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	t0 := time.Now()
	co := t.Child.LMDefaults()
	c, err := onnxgen.ParseCell(t.Arch)
	if err != nil {
		return search.Outcome{Status: search.Failed, Reason: err.Error(), Seconds: time.Since(t0).Seconds()}, nil
	}
	corpus := e.cfg.Corpus
	lo := LMOptions(co, len(corpus.Vocab), t.Seed)
	params, macs := onnxgen.LMCost(c, lo)
	out := search.Outcome{Params: params, FLOPs: macs}
	fail := func(s search.Status, reason string) (search.Outcome, error) {
		out.Status, out.Reason, out.Seconds = s, reason, time.Since(t0).Seconds()
		return out, nil
	}
	if co.MaxParams > 0 && params > co.MaxParams {
		return fail(search.Oversized, fmt.Sprintf("%d parameters, more than the limit %d", params, co.MaxParams))
	}
	train, val, err := lmStreams(corpus, co)
	if err != nil {
		return search.Outcome{}, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	net, err := onnxgen.CompileLM(c, lo)
	if err != nil {
		return fail(search.Failed, err.Error())
	}
	opts := runner.TrainOptions{Epochs: co.Epochs, Batch: co.Batch, LR: float32(co.LR), Seed: t.Seed,
		MemoryLimit: co.MemoryLimit, Score: InvPerplexity, ScoreName: "1/validation perplexity", StopBelow: t.StopBelow}
	res, err := e.cfg.Runtime.Train(ctx, net, train, val, opts)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return search.Outcome{}, err
		}
		return search.Outcome{}, fmt.Errorf("localeval: trial %d: %w", t.Index, err)
	}
	out.Reason, out.ValAcc = res.Reason, res.Scores
	if settle(&out, res.Status, LMReward(res.Scores, co.RewardK, co.RewardP, RewardC(co, corpus.Level))) {
		if out.Model, err = LMModel(c, lo, res.Params, corpus, co.Dataset); err != nil {
			return search.Outcome{}, fmt.Errorf("localeval: trial %d: inference model: %w", t.Index, err)
		}
	}
	out.Seconds = time.Since(t0).Seconds()
	e.cfg.Logger.Debug("trial", "index", t.Index, "status", out.Status.String(), "reward", out.Reward, "seconds", out.Seconds)
	return out, nil
}

// lmStreams are the training and validation windows of a child: the first
// co.TrainSize training tokens (0: all) in co.Batch streams, and the first
// co.ValSize validation tokens (0: all) in as many.
func lmStreams(c *text.Corpus, co search.ChildOptions) (train, val *text.Stream, err error) {
	cut := func(ids []int32, n int) []int32 {
		if n > 0 && n < len(ids) {
			return ids[:n]
		}
		return ids
	}
	if train, err = text.NewStream(cut(c.Train, co.TrainSize), co.Batch, co.LM.Steps); err != nil {
		return nil, nil, fmt.Errorf("training tokens: %w", err)
	}
	if val, err = text.NewStream(cut(c.Valid, co.ValSize), co.Batch, co.LM.Steps); err != nil {
		return nil, nil, fmt.Errorf("validation tokens: %w", err)
	}
	return train, val, nil
}

// LoadText loads the corpus a child's options name (text.Load), its
// vocabulary capped at co.LM.Vocab.
func LoadText(root string, co search.ChildOptions) (*text.Corpus, error) {
	co = co.LMDefaults()
	c, err := text.Load(co.Dataset, root, text.Options{VocabSize: co.LM.Vocab})
	if err != nil {
		return nil, fmt.Errorf("localeval: %w", err)
	}
	return c, nil
}

// LMModel is the exported language model of cell c with the trained params
// (onnxgen.LMInference: one time step, the vocabulary in "nas.vocab"), its
// metadata_props also saying the cell ("nas.arch"), the corpus
// ("nas.dataset") and its level ("nas.level": word or char).
func LMModel(c onnxgen.Cell, lo onnxgen.LMOptions, params []onnxgen.Param, corpus *text.Corpus, dataset string) ([]byte, error) {
	b, err := onnxgen.LMInference(c, lo, params, corpus.Vocab)
	if err != nil {
		return nil, err
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for _, p := range m.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	meta["nas.arch"], meta["nas.dataset"], meta["nas.level"] = c.String(), dataset, corpus.Level.String()
	onnxgen.SetMetadata(&m, meta)
	return proto.MarshalOptions{Deterministic: true}.Marshal(&m)
}

// LMParamsOf reads the trained parameters of cell c's language model out
// of its exported model (LMModel: the parameters are its initializers,
// under their names), in the order and shapes of onnxgen.LMInitParams.
func LMParamsOf(model []byte, c onnxgen.Cell, lo onnxgen.LMOptions) ([]onnxgen.Param, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("localeval: not an ONNX model: %w", err)
	}
	init := map[string]*onnxpb.TensorProto{}
	for _, t := range m.GetGraph().GetInitializer() {
		init[t.GetName()] = t
	}
	ps, err := onnxgen.LMInitParams(c, lo)
	if err != nil {
		return nil, err
	}
	for i, p := range ps {
		t, ok := init[p.Name]
		if !ok || !slices.Equal(t.GetDims(), p.Shape) || t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
			return nil, fmt.Errorf("localeval: the model has no float parameter %s %v (not this cell's language model)", p.Name, p.Shape)
		}
		switch raw := t.GetRawData(); {
		case len(t.GetFloatData()) == len(p.Data):
			copy(ps[i].Data, t.GetFloatData())
		case len(raw) == 4*len(p.Data):
			for k := range ps[i].Data {
				ps[i].Data[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		default:
			return nil, fmt.Errorf("localeval: parameter %s of the model: %d values, want %d", p.Name, max(len(t.GetFloatData()), len(raw)/4), len(p.Data))
		}
	}
	return ps, nil
}

// LMTestPerplexity is the perplexity on the corpus' test split of the
// exported language model of cell c trained with co: its parameters run
// through the evaluation graph (the states carried over the whole split,
// in co.Batch streams of windows of co.LM.Steps), and the tokens it
// predicted.
func LMTestPerplexity(ctx context.Context, rt *runner.Runtime, model []byte, c onnxgen.Cell, co search.ChildOptions, corpus *text.Corpus) (ppl float64, tokens int, err error) {
	co = co.LMDefaults()
	lo := LMOptions(co, len(corpus.Vocab), 0)
	params, err := LMParamsOf(model, c, lo)
	if err != nil {
		return 0, 0, err
	}
	net, err := onnxgen.CompileLM(c, lo)
	if err != nil {
		return 0, 0, err
	}
	test, err := text.NewStream(corpus.Test, co.Batch, co.LM.Steps)
	if err != nil {
		return 0, 0, fmt.Errorf("localeval: test tokens: %w", err)
	}
	pass, err := rt.Evaluate(ctx, net, params, test, co.Batch)
	if err != nil {
		return 0, 0, err
	}
	return 1 / InvPerplexity(pass), test.Tokens(), nil
}
