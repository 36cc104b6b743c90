package search

import (
	"fmt"
	"math"
	"time"

	"github.com/nas-project/nas/controller"
	"github.com/nas-project/nas/onnxgen"
)

// Strategy names.
const (
	StrategyRL        = "rl"
	StrategyRandom    = "random"
	StrategyEvolution = "evolution"
)

// Options configures a search. The zero value of every field selects the
// documented default; Validate reports what is out of range. A run stores
// its options (defaults resolved) in its database; a resumed run uses the
// stored ones, except for the budget fields (see Config.Resume).
type Options struct {
	// Strategy is "rl" (the controller, REINFORCE), "random" or
	// "evolution" (regularized evolution). Empty means "rl".
	Strategy string `json:"strategy"`
	// Kind is the kind of child searched for: "cnn" (an image classifier in
	// onnxgen's language) or "rnn" (a language model around a recurrent
	// cell). Empty means "rnn" when Space names a cell space, else "cnn".
	Kind string `json:"kind"`
	// Space names a preset space of the kind: for CNNs "v1", "v2", "v3",
	// "v3-wide" (onnxgen.SpaceNames), empty meaning "v1"; for cells
	// "cell2", "cell4", "cell8" (the tree's base; the paper's is 8), empty
	// meaning "cell8".
	Space string `json:"space"`

	// M is the number of architectures per iteration (the controller's
	// batch: one update per iteration). Zero means 8.
	M int `json:"m"`
	// Parallel is the number of children evaluated at once. Zero means 1.
	// A budget field; it does not change results.
	Parallel int `json:"parallel"`
	// InFlight is D, the number of iterations in flight: iteration j is
	// sampled once the iterations up to j−D are applied (their update
	// made, in iteration order), from exactly that state, so that up to D
	// iterations train at once (through the one Evaluator, Parallel
	// children at a time) and the results depend on D and the seed, not on
	// how long trials take. Zero means 1: one iteration at a time. Not a
	// budget field: a resume keeps the stored D (and refuses another).
	InFlight int `json:"in_flight"`
	// Trials is the number of trials to run (duplicates and failures
	// included). Zero means no limit: Duration must then be set. A budget
	// field.
	Trials int `json:"trials"`
	// Duration stops the search at the first iteration that would be
	// sampled after it has elapsed (the iterations in flight complete and
	// are applied). Zero means no limit. A budget field.
	Duration time.Duration `json:"duration"`
	// MaxFailures stops the search with ErrTooManyFailures after that many
	// consecutive failed, diverged or oversized trials (in index order,
	// duplicates of such trials included). Zero means 20; negative never
	// stops. A budget field.
	MaxFailures int `json:"max_failures"`

	// Schedule is the CNN kind's depth schedule (its fields are stored at
	// the top level of the run's config).
	Schedule

	// Penalty is the reward recorded (and fed to the strategy) for a
	// failed, diverged or oversized trial. Zero means 0.
	Penalty float64 `json:"penalty"`
	// Seed seeds everything random: the controller, random and evolution
	// proposals, and every trial's Seed. Zero is a seed like any other.
	Seed uint64 `json:"seed"`
	// Controller configures the rl strategy's controller; its zero fields
	// take the controller's defaults (controller.Config). Its Seed is
	// ignored: the controller is seeded from Seed.
	Controller controller.Config `json:"controller"`
	// Population is regularized evolution's population size P. Zero means
	// 20.
	Population int `json:"population"`
	// Tournament is regularized evolution's sample size S. Zero means 5.
	Tournament int `json:"tournament"`

	// Cost trades accuracy for size (MnasNet's objective); the zero value
	// is off. See CostObjective.
	Cost CostObjective `json:"cost,omitzero"`
	// EarlyStop stops children that train for several epochs early, by the
	// median stopping rule; the zero value is off. See EarlyStop.
	EarlyStop EarlyStop `json:"early_stop,omitzero"`
	// Final trains the best architectures again, longer and on the whole
	// training split, once the sampling budget is spent; the zero value is
	// off. See FinalTraining.
	Final FinalTraining `json:"final,omitzero"`
	// Rungs judges most children cheaply and trains the promising ones
	// longer (successive halving), after the sampling and before the final
	// phase; the zero value is off. See MultiFidelity.
	Rungs MultiFidelity `json:"rungs,omitzero"`
	// FinalShare caps the part of Duration kept for the phases after the
	// sampling (the rungs and the final phase): while sampling, the
	// reserve is their predicted time (see finalReserve) but at most
	// FinalShare × Duration, and when they begin they are shrunk to fit the
	// time left. So the sampling gets at least 1 − FinalShare of the
	// budget however slow the candidates look, and a final phase asked
	// for more epochs than fit trains as many as do. Zero means no cap
	// (the reserve is the whole prediction); otherwise in (0, 1).
	FinalShare float64 `json:"final_share,omitempty"`

	// Child says how every child is trained: the CNN kind's training
	// options, handed to the evaluator in each Trial.
	Child ChildOptions `json:"child"`
}

// Schedule is the depth schedule of a CNN search (the paper's): an
// iteration whose first trial index is s has
//
//	min(MaxLayers, StartLayers + LayerStep·⌊s / LayerEvery⌋)
//
// layers, MaxLayers the space's.
type Schedule struct {
	// StartLayers is the depth of the first iteration's architectures.
	// Zero means min(6, the space's MaxLayers) (the paper starts at 6).
	StartLayers int `json:"start_layers"`
	// LayerStep is the number of layers added at each stage. Zero means 2
	// (the paper's).
	LayerStep int `json:"layer_step"`
	// LayerEvery is the number of trials per stage. Zero scales the
	// paper's 1,600 to the budget: with stages = ⌊(MaxLayers −
	// StartLayers) / LayerStep⌋ + 1 depths, LayerEvery = ⌈Trials /
	// stages⌉ rounded up to a multiple of M (so every depth gets an equal
	// share of the budget); 1,600 when Trials is zero.
	LayerEvery int `json:"layer_every"`
}

// ChildOptions says how to train a child. They are plain data, passed to
// the evaluator in each Trial; internal/localeval maps them to
// runner.TrainOptions and onnxgen.TrainOptions.
type ChildOptions struct {
	// Dataset is the data set spec of dataset.Load ("digits",
	// "fashion-mnist", "mnist", "cifar10" or a directory). Empty means
	// "digits".
	Dataset string `json:"dataset"`
	// Epochs is the number of training epochs. Zero means 1.
	Epochs int `json:"epochs"`
	// Batch is the training batch size. Zero means 32.
	Batch int `json:"batch"`
	// LR is the SGD learning rate. Zero means 0.05.
	LR float64 `json:"lr"`
	// CosineLR anneals the learning rate to zero over the training.
	CosineLR bool `json:"cosine_lr"`
	// Momentum is SGD's momentum μ; 0 is plain SGD. Nil means 0.9.
	Momentum *float64 `json:"momentum"`
	// Nesterov selects Nesterov momentum.
	Nesterov bool `json:"nesterov"`
	// WeightDecay is the L2 weight decay. Zero means none.
	WeightDecay float64 `json:"weight_decay"`
	// BatchNorm puts batch normalisation after every convolution.
	BatchNorm bool `json:"batch_norm"`
	// RewardK and RewardP: the reward is (max validation accuracy over the
	// last RewardK epochs)^RewardP. Zero means 5 and 3 (the paper's).
	RewardK int     `json:"reward_k"`
	RewardP float64 `json:"reward_p"`
	// TrainSize is the number of training images per child (a seeded
	// subset of the training split). Zero means all of them.
	TrainSize int `json:"train_size"`
	// ValSize is the number of validation images, split off the data
	// set's training images. Zero means a tenth of them, at most 5,000.
	ValSize int `json:"val_size"`
	// MemoryLimit refuses (Oversized) a child whose estimated training
	// memory exceeds it, in bytes. Zero means no limit.
	MemoryLimit int64 `json:"memory_limit"`
	// MaxParams refuses (Oversized) a child with more parameters. Zero
	// means no limit.
	MaxParams int64 `json:"max_params"`

	// LM: the rnn kind's language model (its other fields above apply as
	// well: Dataset names a text corpus, TrainSize and ValSize count
	// tokens, Batch is the number of streams, RewardK and RewardP make the
	// reward with LM.RewardC).
	LM LMOptions `json:"lm,omitzero"`
}

// LMOptions shape the language model around a searched cell. Zero fields
// take the defaults (see LMDefaults).
type LMOptions struct {
	// Hidden is the size of h and c; Embed the embedding's (0: Hidden).
	Hidden int `json:"hidden"`
	Embed  int `json:"embed,omitempty"`
	// Layers is the number of stacked cells (1 or 2).
	Layers int `json:"layers"`
	// Steps is the BPTT length: tokens per window.
	Steps int `json:"steps"`
	// Clip is the global gradient-norm bound.
	Clip float64 `json:"clip"`
	// Vocab caps the vocabulary of a word-level corpus (0: 10,000, as the
	// PTB files).
	Vocab int `json:"vocab,omitempty"`
	// RewardC is c of the reward c·(1/perplexity)^RewardP, the paper's
	// c/ppl² with RewardP 2. Zero means 80 at word level (the paper's) and
	// 1 at character level (perplexities there lie between 1 and 10, and
	// 1/ppl² keeps every reward in [0, 1], the range the penalty and the
	// controller's baseline assume; Adam makes the scale itself
	// irrelevant to the controller's steps).
	RewardC float64 `json:"reward_c,omitempty"`
}

// LM defaults (the rnn kind's ChildOptions).
const (
	DefaultLMDataset = "tiny"
	DefaultLMBatch   = 20
	DefaultLMLR      = 1.0
	DefaultLMHidden  = 128
	DefaultLMLayers  = 1
	DefaultLMSteps   = 35
	DefaultLMClip    = 5.0
	DefaultLMRewardP = 2
)

// LMDefaults returns c with the rnn kind's defaults for its zero fields:
// the corpus "tiny", 20 streams, SGD at lr 1 (no momentum), hidden 128, one
// cell layer, windows of 35 tokens, clip 5, reward (1/ppl)^2 scaled by
// RewardC; then the defaults of every kind (WithDefaults).
func (c ChildOptions) LMDefaults() ChildOptions {
	if c.Dataset == "" {
		c.Dataset = DefaultLMDataset
	}
	if c.Batch == 0 {
		c.Batch = DefaultLMBatch
	}
	if c.LR == 0 {
		c.LR = DefaultLMLR
	}
	if c.Momentum == nil {
		c.Momentum = Float(0)
	}
	if c.RewardP == 0 {
		c.RewardP = DefaultLMRewardP
	}
	if c.LM.Hidden == 0 {
		c.LM.Hidden = DefaultLMHidden
	}
	if c.LM.Layers == 0 {
		c.LM.Layers = DefaultLMLayers
	}
	if c.LM.Steps == 0 {
		c.LM.Steps = DefaultLMSteps
	}
	if c.LM.Clip == 0 {
		c.LM.Clip = DefaultLMClip
	}
	return c.WithDefaults()
}

// validateLM reports the first LM field out of range (after defaults).
func (c ChildOptions) validateLM() error {
	d := c.LMDefaults()
	switch {
	case d.LM.Hidden < 1 || d.LM.Embed < 0:
		return fmt.Errorf("search: child: hidden %d / embed %d: want >= 1", c.LM.Hidden, c.LM.Embed)
	case d.LM.Layers < 1 || d.LM.Layers > 2:
		return fmt.Errorf("search: child: cell layers %d: want 1 or 2", c.LM.Layers)
	case d.LM.Steps < 1:
		return fmt.Errorf("search: child: steps %d: want >= 1", c.LM.Steps)
	case !finite(d.LM.Clip) || d.LM.Clip <= 0:
		return fmt.Errorf("search: child: clip %v: want a finite value > 0", c.LM.Clip)
	case d.LM.Vocab < 0 || d.LM.Vocab > 0 && d.LM.Vocab < 3:
		return fmt.Errorf("search: child: vocabulary %d: want 0 (the default) or at least 3", c.LM.Vocab)
	case !finite(d.LM.RewardC) || d.LM.RewardC < 0:
		return fmt.Errorf("search: child: reward c %v: want a finite value >= 0", c.LM.RewardC)
	case *d.Momentum != 0 || d.Nesterov || d.WeightDecay != 0 || d.BatchNorm || d.CosineLR:
		return fmt.Errorf("search: child: momentum, Nesterov, weight decay, batch norm and the cosine schedule are CNN options; a language model trains with plain SGD and gradient clipping")
	}
	return nil
}

// Defaults.
const (
	DefaultM           = 8
	DefaultMaxFailures = 20
	DefaultStartLayers = 6
	DefaultLayerStep   = 2
	DefaultLayerEvery  = 1600
	DefaultPopulation  = 20
	DefaultTournament  = 5
	DefaultMomentum    = 0.9
)

// Float returns a pointer to x, for the options whose nil means "the
// default" and whose zero is a value (ChildOptions.Momentum).
func Float(x float64) *float64 { return &x }

// WithDefaults returns c with its zero fields replaced by the defaults.
func (c ChildOptions) WithDefaults() ChildOptions {
	if c.Dataset == "" {
		c.Dataset = "digits"
	}
	if c.Epochs == 0 {
		c.Epochs = 1
	}
	if c.Batch == 0 {
		c.Batch = 32
	}
	if c.LR == 0 {
		c.LR = 0.05
	}
	if c.Momentum == nil {
		c.Momentum = Float(DefaultMomentum)
	}
	if c.RewardK == 0 {
		c.RewardK = 5
	}
	if c.RewardP == 0 {
		c.RewardP = 3
	}
	return c
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate reports the first field out of range (after defaults).
func (c ChildOptions) Validate() error {
	d := c.WithDefaults()
	switch {
	case d.Epochs < 0:
		return fmt.Errorf("search: child: epochs %d: want >= 0", c.Epochs)
	case d.Batch < 0:
		return fmt.Errorf("search: child: batch %d: want >= 0", c.Batch)
	case !finite(d.LR) || d.LR <= 0:
		return fmt.Errorf("search: child: lr %v: want a finite value > 0", c.LR)
	case !finite(*d.Momentum) || *d.Momentum < 0 || *d.Momentum >= 1:
		return fmt.Errorf("search: child: momentum %v: want [0, 1)", *d.Momentum)
	case d.Nesterov && *d.Momentum == 0:
		return fmt.Errorf("search: child: Nesterov momentum needs momentum > 0")
	case !finite(d.WeightDecay) || d.WeightDecay < 0:
		return fmt.Errorf("search: child: weight decay %v: want >= 0", c.WeightDecay)
	case d.RewardK < 0:
		return fmt.Errorf("search: child: reward k %d: want >= 0", c.RewardK)
	case !finite(d.RewardP) || d.RewardP < 0:
		return fmt.Errorf("search: child: reward p %v: want a finite value >= 0", c.RewardP)
	case d.TrainSize < 0 || d.ValSize < 0:
		return fmt.Errorf("search: child: train size %d / val size %d: want >= 0", c.TrainSize, c.ValSize)
	case d.MemoryLimit < 0 || d.MaxParams < 0:
		return fmt.Errorf("search: child: memory limit %d / max params %d: want >= 0", c.MemoryLimit, c.MaxParams)
	}
	return nil
}

// IsCellSpace reports whether name is a cell space (the rnn kind's).
func IsCellSpace(name string) bool {
	_, err := onnxgen.CellSpaceByName(name)
	return err == nil
}

// cellSpace returns the cell space the options name.
func (o Options) cellSpace() (onnxgen.CellSpace, error) {
	name := o.Space
	if name == "" {
		name = "cell8"
	}
	sp, err := onnxgen.CellSpaceByName(name)
	if err != nil {
		return onnxgen.CellSpace{}, fmt.Errorf("search: %w", err)
	}
	return sp, nil
}

// space returns the onnxgen space the options name.
func (o Options) space() (onnxgen.Space, error) {
	name := o.Space
	if name == "" {
		name = "v1"
	}
	sp, err := onnxgen.SpaceByName(name)
	if err != nil {
		return onnxgen.Space{}, fmt.Errorf("search: %w", err)
	}
	return sp, nil
}

// WithDefaults returns o with every zero field that has a default resolved,
// the depth schedule included (it needs the space: an unknown space leaves
// the schedule unresolved, and Validate reports it).
func (o Options) WithDefaults() Options {
	if o.Strategy == "" {
		o.Strategy = StrategyRL
	}
	if o.Kind == "" {
		o.Kind = KindCNN
		if IsCellSpace(o.Space) {
			o.Kind = KindRNN
		}
	}
	if o.Space == "" {
		o.Space = "v1"
		if o.Kind == KindRNN {
			o.Space = "cell8"
		}
	}
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.Parallel == 0 {
		o.Parallel = 1
	}
	if o.InFlight == 0 {
		o.InFlight = 1
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.LayerStep == 0 {
		o.LayerStep = DefaultLayerStep
	}
	if o.Population == 0 {
		o.Population = DefaultPopulation
	}
	if o.Tournament == 0 {
		o.Tournament = DefaultTournament
	}
	o.Controller.Seed = 0
	o.Controller = o.Controller.WithDefaults()
	o.Cost = o.Cost.WithDefaults()
	o.EarlyStop = o.EarlyStop.WithDefaults()
	o.Final = o.Final.WithDefaults()
	o.Rungs = o.Rungs.WithDefaults()
	if o.Kind == KindRNN {
		// One cell per trial: the depth schedule is one layer throughout.
		o.Child = o.Child.LMDefaults()
		o.StartLayers, o.LayerStep, o.LayerEvery = 1, 0, max(o.M, 1)
		return o
	}
	o.Child = o.Child.WithDefaults()
	sp, err := o.space()
	if err != nil {
		return o
	}
	if o.StartLayers == 0 {
		o.StartLayers = min(DefaultStartLayers, sp.MaxLayers)
	}
	if o.LayerEvery == 0 && o.M > 0 && o.LayerStep > 0 {
		if o.Trials <= 0 {
			o.LayerEvery = DefaultLayerEvery
		} else {
			stages := max(sp.MaxLayers-o.StartLayers, 0)/o.LayerStep + 1
			every := (o.Trials + stages - 1) / stages
			o.LayerEvery = max(o.M, (every+o.M-1)/o.M*o.M)
		}
	}
	return o
}

// Validate reports the first field out of range (after defaults).
func (o Options) Validate() error {
	d := o.WithDefaults()
	maxLayers := 1
	switch d.Kind {
	case KindCNN:
		sp, err := d.space()
		if err != nil {
			return err
		}
		maxLayers = sp.MaxLayers
	case KindRNN:
		if _, err := d.cellSpace(); err != nil {
			return err
		}
		if err := o.Child.validateLM(); err != nil {
			return err
		}
		if d.Cost.On() {
			return fmt.Errorf("search: the cost objective is for CNNs (multiply-adds per image)")
		}
		if d.Final.On() {
			return fmt.Errorf("search: the final training phase trains CNNs only so far (train the best cell longer with nas train)")
		}
		if d.Rungs.On() {
			return fmt.Errorf("search: the rungs (multi-fidelity) train CNNs only so far")
		}
	default:
		return fmt.Errorf("search: unknown kind of child %q (want %s or %s)", o.Kind, KindCNN, KindRNN)
	}
	switch {
	case d.Strategy != StrategyRL && d.Strategy != StrategyRandom && d.Strategy != StrategyEvolution:
		return fmt.Errorf("search: unknown strategy %q (want rl, random or evolution)", o.Strategy)
	case d.M < 1:
		return fmt.Errorf("search: m %d: want >= 1", o.M)
	case d.Parallel < 1:
		return fmt.Errorf("search: parallel %d: want >= 1", o.Parallel)
	case d.InFlight < 1:
		return fmt.Errorf("search: in flight %d: want >= 1 iterations", o.InFlight)
	case d.Trials < 0:
		return fmt.Errorf("search: trials %d: want >= 0", o.Trials)
	case d.Duration < 0:
		return fmt.Errorf("search: duration %v: want >= 0", o.Duration)
	case d.Trials == 0 && d.Duration == 0:
		return fmt.Errorf("search: no budget: set the number of trials or a duration")
	case d.StartLayers < 1 || d.StartLayers > maxLayers:
		return fmt.Errorf("search: start layers %d: want 1..%d (space %s)", o.StartLayers, maxLayers, d.Space)
	case d.LayerStep < 0:
		return fmt.Errorf("search: layer step %d: want >= 0", o.LayerStep)
	case d.LayerEvery < 1:
		return fmt.Errorf("search: layer every %d: want >= 1", o.LayerEvery)
	case !finite(d.Penalty) || math.Abs(d.Penalty) > 1:
		// Rewards lie in [0, 1]; a penalty far outside them swamps the
		// controller's baseline and makes its gradient overflow.
		return fmt.Errorf("search: penalty %v: want a value in [-1, 1] (rewards lie in [0, 1])", o.Penalty)
	case !finite(d.Controller.LR) || d.Controller.LR > 1:
		// Adam steps of this size make the controller's weights, and then
		// its gradient, overflow.
		return fmt.Errorf("search: controller lr %v: want at most 1 (the paper's is 0.0006)", o.Controller.LR)
	case d.Population < 2:
		return fmt.Errorf("search: population %d: want >= 2", o.Population)
	case d.Tournament < 1 || d.Tournament > d.Population:
		return fmt.Errorf("search: tournament %d: want 1..population (%d)", o.Tournament, d.Population)
	}
	if err := d.Controller.Validate(); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if err := o.Cost.Validate(); err != nil {
		return err
	}
	if err := o.EarlyStop.Validate(); err != nil {
		return err
	}
	switch {
	case d.FinalShare < 0 || d.FinalShare >= 1:
		return fmt.Errorf("search: final share %g: want a fraction of the duration in [0, 1) (0: no cap)", d.FinalShare)
	case d.FinalShare > 0 && !d.Final.On() && !d.Rungs.On():
		return fmt.Errorf("search: final share %g without rungs or a final phase to keep it for", d.FinalShare)
	}
	if err := o.Final.Validate(); err != nil {
		return err
	}
	if err := o.Rungs.Validate(); err != nil {
		return err
	}
	if d.EarlyStop.On && d.Child.Epochs < 2 {
		return fmt.Errorf("search: early stopping needs at least 2 epochs per child (epochs %d): the rule runs after every epoch but the last", d.Child.Epochs)
	}
	return d.Child.Validate()
}
