package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nas-project/nas/controller"
	"github.com/nas-project/nas/onnxgen"
)

// proposal is one architecture a strategy proposes.
type proposal struct {
	arch    string // canonical when err is nil, else what was proposed
	err     error  // the proposal is not a valid architecture of the space
	layers  int
	choices []int // rl: the controller's choices
}

// strategy proposes the architectures of an iteration and observes their
// results. propose must be a function of the strategy's state at the start
// of the iteration (and the trials before it), so that a resumed run
// proposes exactly what the interrupted one did.
type strategy interface {
	// firstIteration is where a (resumed) run starts proposing.
	firstIteration() int
	propose(iter, start, n, layers int, history []Record) ([]proposal, error)
	// observe sees a complete iteration's records, in index order.
	observe(iter int, props []proposal, recs []Record) (*IterationDone, error)
}

// mix derives a 64-bit seed from the run's seed, a purpose and an index
// (SplitMix64's finaliser over their combination).
func mix(seed uint64, purpose uint64, i int) uint64 {
	z := seed ^ (purpose * 0x9e3779b97f4a7c15) ^ (uint64(i) * 0xbf58476d1ce4e5b9)
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Purposes of mix.
const (
	seedTrial = iota + 1
	seedController
	seedRandom
	seedEvolution
)

// TrialSeed is the Seed of trial i of a run with the given seed.
func TrialSeed(seed uint64, i int) uint64 { return mix(seed, seedTrial, i) }

// ControllerSpace is the controller's view of an onnxgen space.
func ControllerSpace(sp onnxgen.Space) controller.Space {
	var ds []controller.Decision
	for _, d := range sp.Decisions() {
		ds = append(ds, controller.Decision{Name: d.Name, Tokens: d.Tokens})
	}
	return controller.Space{Decisions: ds, Anchors: sp.Anchors, AnchorPrefix: onnxgen.AnchorPrefix, LayerSep: onnxgen.LayerSeparator}
}

// options lists the values of each per-layer field: kh, kw, sh, sw, f.
func fieldOptions(sp onnxgen.Space) [5][]int {
	or1 := func(o []int) []int {
		if len(o) == 0 {
			return []int{1}
		}
		return o
	}
	return [5][]int{sp.KernelHeights, sp.KernelWidths, or1(sp.StrideHeights), or1(sp.StrideWidths), sp.Filters}
}

func layerField(l *onnxgen.Layer, f int) *int {
	return [5]*int{&l.KH, &l.KW, &l.SH, &l.SW, &l.Filters}[f]
}

// randomArch draws an architecture of the given depth uniformly: every
// field uniform over its options, and with anchors every earlier layer an
// input with probability 1/2 (without anchors, a chain).
func randomArch(sp onnxgen.Space, layers int, r *rand.Rand) onnxgen.Arch {
	opts := fieldOptions(sp)
	a := onnxgen.Arch{Layers: make([]onnxgen.Layer, layers)}
	for i := range a.Layers {
		l := &a.Layers[i]
		for f, o := range opts {
			*layerField(l, f) = o[r.IntN(len(o))]
		}
		for j := 0; j < i; j++ {
			if (sp.Anchors && r.IntN(2) == 1) || (!sp.Anchors && j == i-1) {
				l.Inputs = append(l.Inputs, j)
			}
		}
	}
	return a
}

// mutate changes one decision of a: a slot is drawn uniformly among every
// field with more than one option of every layer and, with anchors, every
// (layer i, earlier layer j) pair; a field takes another of its options
// uniformly, an anchor flips. a is not modified.
func mutate(sp onnxgen.Space, a onnxgen.Arch, r *rand.Rand) onnxgen.Arch {
	opts := fieldOptions(sp)
	var fields []int
	for f, o := range opts {
		if len(o) > 1 {
			fields = append(fields, f)
		}
	}
	L := len(a.Layers)
	nf := L * len(fields)
	na := 0
	if sp.Anchors {
		na = L * (L - 1) / 2
	}
	b := onnxgen.Arch{Layers: make([]onnxgen.Layer, L)}
	for i, l := range a.Layers {
		l.Inputs = append([]int(nil), l.Inputs...)
		b.Layers[i] = l
	}
	if nf+na == 0 {
		return b
	}
	k := r.IntN(nf + na)
	if k < nf {
		l := &b.Layers[k/len(fields)]
		f := fields[k%len(fields)]
		o := opts[f]
		cur := *layerField(l, f)
		var others []int
		for _, v := range o {
			if v != cur {
				others = append(others, v)
			}
		}
		*layerField(l, f) = others[r.IntN(len(others))]
		return b
	}
	k -= nf
	i := 1
	for k >= i { // pair k: layer i, earlier layer j = k
		k -= i
		i++
	}
	l := &b.Layers[i]
	var in []int
	found := false
	for _, j := range l.Inputs {
		if j == k {
			found = true
			continue
		}
		in = append(in, j)
	}
	if !found {
		in = append(in, k)
		for x := len(in) - 1; x > 0 && in[x] < in[x-1]; x-- {
			in[x], in[x-1] = in[x-1], in[x]
		}
	}
	l.Inputs = in
	return b
}

// randomStrategy proposes uniform architectures; trial i's draw is seeded
// by (Seed, i), so it has no state.
type randomStrategy struct {
	sp   onnxgen.Space
	seed uint64
}

func (s *randomStrategy) firstIteration() int { return 0 }

func (s *randomStrategy) propose(_, start, n, layers int, _ []Record) ([]proposal, error) {
	ps := make([]proposal, n)
	for k := range ps {
		r := rand.New(rand.NewPCG(mix(s.seed, seedRandom, start+k), 0))
		ps[k] = proposal{arch: onnxgen.Format(randomArch(s.sp, layers, r)), layers: layers}
	}
	return ps, nil
}

func (s *randomStrategy) observe(iter int, _ []proposal, _ []Record) (*IterationDone, error) {
	return nil, nil
}

// evolution is regularized evolution (Real et al., 2019), batched: trial i
// of the iteration starting at s is random when i < Population or s == 0;
// otherwise its parent wins a tournament of Tournament members drawn
// without replacement from the population, the Population trials before s
// (the oldest are gone: aging), and the child is the parent with one
// decision mutated. Draws are seeded by (Seed, i); the population comes
// from the trial table, so the strategy has no state of its own.
type evolution struct {
	sp        onnxgen.Space
	seed      uint64
	pop, tour int
}

func (s *evolution) firstIteration() int { return 0 }

func (s *evolution) propose(_, start, n, layers int, history []Record) ([]proposal, error) {
	if len(history) < start {
		return nil, fmt.Errorf("search: evolution: %d trials before trial %d", len(history), start)
	}
	pop := history[max(0, start-s.pop):start]
	ps := make([]proposal, n)
	for k := range ps {
		i := start + k
		r := rand.New(rand.NewPCG(mix(s.seed, seedEvolution, i), 0))
		if i < s.pop || len(pop) == 0 {
			ps[k] = proposal{arch: onnxgen.Format(randomArch(s.sp, layers, r)), layers: layers}
			continue
		}
		perm := r.Perm(len(pop))[:min(s.tour, len(pop))]
		best := perm[0]
		for _, c := range perm[1:] {
			if pop[c].Reward > pop[best].Reward {
				best = c
			}
		}
		parent, err := s.sp.ParseArch(pop[best].Arch)
		if err != nil {
			// A parent that is not an architecture of the space (a
			// proposal error recorded as failed) is replaced by a draw.
			ps[k] = proposal{arch: onnxgen.Format(randomArch(s.sp, layers, r)), layers: layers}
			continue
		}
		child := mutate(s.sp, parent, r)
		ps[k] = proposal{arch: onnxgen.Format(child), layers: len(child.Layers)}
	}
	return ps, nil
}

func (s *evolution) observe(iter int, _ []proposal, _ []Record) (*IterationDone, error) {
	return nil, nil
}

// rl is the controller: it samples the iteration's architectures, and a
// complete iteration makes one REINFORCE update, checkpointed atomically to
// CheckpointFile. The checkpoint holds the controller as it is at the start
// of the next iteration (weights, Adam state, baseline, sampler RNG), so a
// resumed run re-samples exactly the interrupted iteration.
type rl struct {
	sp   onnxgen.Space
	ctrl *controller.Controller
	path string
}

func newRL(dir string, o Options, sp onnxgen.Space) (*rl, error) {
	cfg := o.Controller
	cfg.Seed = mix(o.Seed, seedController, 0)
	csp := ControllerSpace(sp)
	path := filepath.Join(dir, CheckpointFile)
	var c *controller.Controller
	var err error
	if _, serr := os.Stat(path); serr == nil {
		c, err = controller.LoadFile(path, cfg, csp)
	} else if errors.Is(serr, os.ErrNotExist) {
		c, err = controller.New(cfg, csp)
	} else {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("search: rl: %w", err)
	}
	return &rl{sp: sp, ctrl: c, path: path}, nil
}

func (s *rl) firstIteration() int { return s.ctrl.Steps() }

func (s *rl) propose(_, _, n, layers int, _ []Record) ([]proposal, error) {
	ps := make([]proposal, n)
	for k := range ps {
		smp, err := s.ctrl.Sample(layers)
		if err != nil {
			return nil, fmt.Errorf("search: rl: %w", err)
		}
		p := proposal{arch: smp.Arch, layers: layers, choices: smp.Choices}
		if a, err := s.sp.ParseArch(smp.Arch); err != nil {
			p.err = err
		} else {
			p.arch = onnxgen.Format(a)
		}
		ps[k] = p
	}
	return ps, nil
}

func (s *rl) observe(iter int, props []proposal, recs []Record) (*IterationDone, error) {
	eps := make([]controller.Episode, len(props))
	for k, p := range props {
		eps[k] = controller.Episode{Layers: p.layers, Choices: p.choices, Reward: recs[k].Reward}
	}
	st, err := s.ctrl.Update(eps)
	if err != nil {
		return nil, fmt.Errorf("search: rl: iteration %d: %w", iter, err)
	}
	if err := s.ctrl.SaveFile(s.path); err != nil {
		return nil, fmt.Errorf("search: rl: iteration %d: %w", iter, err)
	}
	return &IterationDone{Updated: true, Baseline: st.Baseline, Loss: st.Loss, Entropy: st.Entropy}, nil
}
