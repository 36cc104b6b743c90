package controller

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Controller is the RNN policy over architecture strings. It is not safe
// for concurrent use.
type Controller struct {
	cfg  Config  // with defaults applied
	prog Space   // the space as given
	sp   layout  // what the policy samples (prog without fixed decisions)
	smp  sampled // maps prog's decision vectors to sp's
	fp   [32]byte
	w    *weights

	// Adam state and the gradient buffer, parallel to w.all.
	adamM, adamV, grad [][]float64
	step               int     // completed updates
	baseline           float64 // EMA of rewards
	baselineSet        bool

	pcg *rand.PCG // the sampler's RNG (its state is checkpointed)
	rng *rand.Rand

	graphs map[[2]int]*graph // by (m, layers)
	buf    buffers
}

// Sample is one architecture drawn from (or chosen by) the policy.
type Sample struct {
	Arch    string  // the architecture string (Space.Format of Choices)
	Choices []int   // the decision vector (Space.Positions): every entry, fixed ones as 0; anchors as 0/1
	Layers  int     // number of layers
	LogProb float64 // log-probability of Choices under the policy
}

// Episode is a sampled architecture and its reward, the unit of Update.
type Episode struct {
	Layers  int
	Choices []int
	Reward  float64
}

// Stats describes one update.
type Stats struct {
	Step        int     // updates done, this one included
	MeanReward  float64 // mean reward of the batch
	Baseline    float64 // the baseline used for this batch's advantages
	Loss        float64 // the minimised loss (entropy bonus included)
	MeanLogProb float64 // mean Σ_t log p(a_t) of the episodes before the update
	Entropy     float64 // mean Σ_t entropy per episode; 0 when EntropyWeight is 0
	GradNorm    float64 // global L2 norm of the gradient before clipping
}

// Adam's constants.
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// MaxLayers bounds the depth of one architecture.
const MaxLayers = 1000

// New makes a controller for the space with weights drawn from cfg.Seed.
func New(cfg Config, sp Space) (c *Controller, err error) {
	defer recoverTo(&err)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	prog := sp.clone()
	l := prog.layout()
	c = &Controller{cfg: cfg, prog: prog, sp: l, smp: newSampled(prog), fp: l.fingerprint(), w: newWeights(cfg, l), graphs: map[[2]int]*graph{}}
	for _, p := range c.w.all {
		c.adamM = append(c.adamM, make([]float64, p.size()))
		c.adamV = append(c.adamV, make([]float64, p.size()))
		c.grad = append(c.grad, make([]float64, p.size()))
	}
	c.pcg = rand.NewPCG(cfg.Seed, 2)
	c.rng = rand.New(c.pcg)
	c.buf = newBuffers(cfg, l)
	return c, nil
}

// Config returns the configuration with defaults applied.
func (c *Controller) Config() Config { return c.cfg }

// Space returns a copy of the controller's search space.
func (c *Controller) Space() Space { return c.prog.clone() }

// Steps returns the number of updates done.
func (c *Controller) Steps() int { return c.step }

// Baseline returns the reward baseline and whether it has been set.
func (c *Controller) Baseline() (float64, bool) { return c.baseline, c.baselineSet }

func (c *Controller) checkLayers(layers int) error {
	if layers < 1 || layers > MaxLayers {
		return fmt.Errorf("controller: layers %d out of range [1, %d]", layers, MaxLayers)
	}
	return nil
}

// Sample draws one architecture of the given depth from the policy, using
// and advancing the controller's seeded RNG.
func (c *Controller) Sample(layers int) (s Sample, err error) {
	defer recoverTo(&err)
	if err := c.checkLayers(layers); err != nil {
		return Sample{}, err
	}
	return c.sampleWith(layers, func(_ int, probs []float64) int {
		u := c.rng.Float64()
		acc := 0.0
		for k, p := range probs {
			acc += p
			if u < acc {
				return k
			}
		}
		// u is beyond the rounded total: take the last option with mass.
		for k := len(probs) - 1; k > 0; k-- {
			if probs[k] > 0 {
				return k
			}
		}
		return 0
	}), nil
}

// Greedy returns the most likely option of every decision in turn (argmax;
// an anchor is taken when its probability exceeds 1/2). It does not use
// the RNG.
func (c *Controller) Greedy(layers int) (s Sample, err error) {
	defer recoverTo(&err)
	if err := c.checkLayers(layers); err != nil {
		return Sample{}, err
	}
	return c.sampleWith(layers, func(_ int, probs []float64) int {
		best := 0
		for k, p := range probs {
			if p > probs[best] {
				best = k
			}
		}
		return best
	}), nil
}

func (c *Controller) sampleWith(layers int, choose chooser) Sample {
	c.buf.growPrev(layers, c.cfg.Hidden)
	ch := make([]int, c.sp.NumChoices(layers))
	lp, _ := c.rollout(layers, choose, ch)
	full := c.smp.expand(layers, ch)
	return Sample{Arch: c.prog.Format(layers, full), Choices: full, Layers: layers, LogProb: lp}
}

// LogProb returns the log-probability of a choice sequence of the given
// depth under the current policy, computed in plain Go.
func (c *Controller) LogProb(layers int, choices []int) (lp float64, err error) {
	defer recoverTo(&err)
	if err := c.checkEpisode(Episode{Layers: layers, Choices: choices}); err != nil {
		return 0, err
	}
	c.buf.growPrev(layers, c.cfg.Hidden)
	short := c.smp.compact(layers, choices)
	scratch := make([]int, len(short))
	lp, _ = c.rollout(layers, func(t int, _ []float64) int { return short[t] }, scratch)
	return lp, nil
}

// Arch returns the architecture string of a choice sequence.
func (c *Controller) Arch(layers int, choices []int) (string, error) {
	if err := c.checkEpisode(Episode{Layers: layers, Choices: choices}); err != nil {
		return "", err
	}
	return c.prog.Format(layers, choices), nil
}

func (c *Controller) checkEpisode(e Episode) error {
	if err := c.checkLayers(e.Layers); err != nil {
		return err
	}
	return c.prog.Check(e.Layers, e.Choices)
}

// Update applies one REINFORCE step for a batch of M episodes:
//
//	loss = −(1/M) Σ_k (R_k − b) Σ_t log p(a_t) − β (1/M) Σ_k Σ_t H_t
//
// then clips the gradient's global norm, takes an Adam step and moves the
// baseline. Episodes may differ in depth; they are grouped by depth and the
// groups' gradients summed.
func (c *Controller) Update(eps []Episode) (st Stats, err error) {
	defer recoverTo(&err)
	if len(eps) == 0 {
		return Stats{}, fmt.Errorf("controller: update: no episodes")
	}
	M := float64(len(eps))
	mean := 0.0
	short := make([]Episode, len(eps)) // the layout's vectors
	for k, e := range eps {
		if err := c.checkEpisode(e); err != nil {
			return Stats{}, fmt.Errorf("controller: update: episode %d: %w", k, err)
		}
		if !finite(e.Reward) {
			return Stats{}, fmt.Errorf("controller: update: episode %d: reward %v is not finite", k, e.Reward)
		}
		mean += e.Reward
		short[k] = Episode{Layers: e.Layers, Choices: c.smp.compact(e.Layers, e.Choices), Reward: e.Reward}
	}
	mean /= M
	// The first batch's mean is the baseline; it is kept only if the update
	// is (a rejected batch leaves the controller as it was).
	baseline := c.baseline
	if !c.baselineSet {
		baseline = mean
	}
	st.MeanReward, st.Baseline = mean, baseline

	// Group by depth, deepest order fixed (ascending), episodes in input order.
	groups := map[int][]*Episode{}
	for k := range short {
		groups[short[k].Layers] = append(groups[short[k].Layers], &short[k])
	}
	depths := make([]int, 0, len(groups))
	for d := range groups {
		depths = append(depths, d)
	}
	sort.Ints(depths)
	for _, g := range c.grad {
		clear(g)
	}
	for _, depth := range depths {
		grp := groups[depth]
		key := [2]int{len(grp), depth}
		gr := c.graphs[key]
		if gr == nil {
			if gr, err = c.buildGraph(len(grp), depth); err != nil {
				return Stats{}, err
			}
			c.graphs[key] = gr
		}
		adv := make([]float64, len(grp))
		entw := make([]float64, len(grp))
		for k, e := range grp {
			adv[k] = (e.Reward - baseline) / M
			entw[k] = c.cfg.EntropyWeight / M
		}
		loss, lp, ent, err := gr.run(c, grp, adv, entw, c.grad)
		if err != nil {
			return Stats{}, err
		}
		st.Loss += loss
		for k := range grp {
			st.MeanLogProb += lp[k] / M
			if ent != nil {
				st.Entropy += ent[k] / M
			}
		}
	}
	norm := 0.0
	for _, g := range c.grad {
		for _, v := range g {
			norm += v * v
		}
	}
	norm = math.Sqrt(norm)
	st.GradNorm = norm
	if !finite(norm) {
		return st, fmt.Errorf("controller: update: gradient norm is %v; weights left unchanged", norm)
	}
	scale := 1.0
	if c.cfg.ClipNorm > 0 && norm > c.cfg.ClipNorm {
		scale = c.cfg.ClipNorm / norm
	}
	c.step++
	t := float64(c.step)
	bc1 := 1 - math.Pow(adamBeta1, t)
	bc2 := 1 - math.Pow(adamBeta2, t)
	for pi, p := range c.w.all {
		g, m, v := c.grad[pi], c.adamM[pi], c.adamV[pi]
		for i := range p.w {
			gi := g[i] * scale
			m[i] = adamBeta1*m[i] + (1-adamBeta1)*gi
			v[i] = adamBeta2*v[i] + (1-adamBeta2)*gi*gi
			p.w[i] -= c.cfg.LR * (m[i] / bc1) / (math.Sqrt(v[i]/bc2) + adamEps)
		}
	}
	c.baseline, c.baselineSet = c.cfg.BaselineDecay*baseline+(1-c.cfg.BaselineDecay)*mean, true
	st.Step = c.step
	return st, nil
}

// recoverTo turns a panic (gorgonia's Must and friends) into an error.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("controller: internal error: %v", r)
	}
}
