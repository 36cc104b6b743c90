package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nas-project/nas/controller"
)

// proposal is one architecture a strategy proposes.
type proposal struct {
	arch    string // canonical when err is nil, else what was proposed
	err     error  // the proposal is not a valid architecture of the space
	layers  int
	choices []int // the decision vector (controller.Space.Positions)
}

// strategy proposes the architectures of an iteration and observes their
// results. propose must be a function of the strategy's state when the
// iteration is sampled and of history (the trials of the iterations
// applied by then, Options.InFlight), so that a resumed run proposes
// exactly what the interrupted one did; it is called once per iteration,
// in iteration order, for the whole iteration (n = M, also when the trial
// budget ends inside it); observe is called once per applied iteration, in
// iteration order.
type strategy interface {
	// firstIteration is the number of iterations the strategy's saved
	// state has applied (rl: the controller's updates), where a (resumed)
	// run starts applying.
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

// randomChoices draws a decision vector of the given depth uniformly:
// every entry uniform over its options (an anchor with probability 1/2; a
// fixed decision's one option still takes a draw), in vector order.
func randomChoices(prog controller.Space, layers int, r *rand.Rand) []int {
	ps := prog.Positions(layers)
	out := make([]int, len(ps))
	for t, p := range ps {
		out[t] = r.IntN(p.Options)
	}
	return out
}

// mutate changes one decision of a decision vector: a slot is drawn
// uniformly among every entry with more than one option, the choices first
// (in vector order: layer by layer), then the anchors (likewise); a choice
// takes another of its options uniformly, an anchor flips. choices is not
// modified.
func mutate(prog controller.Space, layers int, choices []int, r *rand.Rand) []int {
	out := append([]int(nil), choices...)
	var fields, anchors []int
	ps := prog.Positions(layers)
	for t, p := range ps {
		switch {
		case p.Earlier >= 0:
			anchors = append(anchors, t)
		case p.Options > 1:
			fields = append(fields, t)
		}
	}
	if len(fields)+len(anchors) == 0 {
		return out
	}
	k := r.IntN(len(fields) + len(anchors))
	if k >= len(fields) {
		out[anchors[k-len(fields)]] ^= 1
		return out
	}
	t := fields[k]
	var others []int
	for v := range ps[t].Options {
		if v != out[t] {
			others = append(others, v)
		}
	}
	out[t] = others[r.IntN(len(others))]
	return out
}

// written is the proposal of a decision vector: its string, canonical when
// the kind accepts it.
func written(k kind, layers int, choices []int) proposal {
	p := proposal{arch: k.program().Format(layers, choices), layers: layers, choices: choices}
	if c, err := k.canonical(p.arch); err != nil {
		p.err = err
	} else {
		p.arch = c
	}
	return p
}

// randomStrategy proposes uniform architectures; trial i's draw is seeded
// by (Seed, i), so it has no state.
type randomStrategy struct {
	kind kind
	seed uint64
}

func (s *randomStrategy) firstIteration() int { return 0 }

func (s *randomStrategy) propose(_, start, n, layers int, _ []Record) ([]proposal, error) {
	ps := make([]proposal, n)
	for k := range ps {
		r := rand.New(rand.NewPCG(mix(s.seed, seedRandom, start+k), 0))
		ps[k] = written(s.kind, layers, randomChoices(s.kind.program(), layers, r))
	}
	return ps, nil
}

func (s *randomStrategy) observe(iter int, _ []proposal, _ []Record) (*IterationDone, error) {
	return nil, nil
}

// evolution is regularized evolution (Real et al., 2019), batched: trial i
// of an iteration is random when i < Population or the history is empty;
// otherwise its parent wins a tournament of Tournament members drawn
// without replacement from the population, the last Population trials of
// the history (the applied iterations: with one iteration in flight, the
// trials before the iteration; the oldest are gone: aging), and the child
// is the parent with one
// decision mutated. Draws are seeded by (Seed, i); the population comes
// from the trial table, so the strategy has no state of its own.
type evolution struct {
	kind      kind
	seed      uint64
	pop, tour int
}

func (s *evolution) firstIteration() int { return 0 }

func (s *evolution) propose(_, start, n, layers int, history []Record) ([]proposal, error) {
	pop := history[max(0, len(history)-s.pop):]
	ps := make([]proposal, n)
	for k := range ps {
		i := start + k
		r := rand.New(rand.NewPCG(mix(s.seed, seedEvolution, i), 0))
		prog := s.kind.program()
		if i < s.pop || len(pop) == 0 {
			ps[k] = written(s.kind, layers, randomChoices(prog, layers, r))
			continue
		}
		perm := r.Perm(len(pop))[:min(s.tour, len(pop))]
		best := perm[0]
		for _, c := range perm[1:] {
			if pop[c].Reward > pop[best].Reward {
				best = c
			}
		}
		pl, parent, err := s.kind.encode(pop[best].Arch)
		if err != nil {
			// A parent that is not an architecture of the space (a
			// proposal error recorded as failed) is replaced by a draw.
			ps[k] = written(s.kind, layers, randomChoices(prog, layers, r))
			continue
		}
		ps[k] = written(s.kind, pl, mutate(prog, pl, parent, r))
	}
	return ps, nil
}

func (s *evolution) observe(iter int, _ []proposal, _ []Record) (*IterationDone, error) {
	return nil, nil
}

// rl is the controller: it samples the iteration's architectures, and a
// complete iteration makes one REINFORCE update, checkpointed atomically to
// CheckpointFile. The checkpoint holds the controller as it is right after
// its last update (weights, Adam state, baseline, sampler RNG): the
// iterations sampled before that update are known from the sampled table
// (their updates count is below the checkpoint's), and a resumed run
// re-samples exactly the others.
type rl struct {
	kind kind
	ctrl *controller.Controller
	path string
}

func newRL(dir string, o Options, k kind) (*rl, error) {
	cfg := o.Controller
	cfg.Seed = mix(o.Seed, seedController, 0)
	csp := k.program()
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
	return &rl{kind: k, ctrl: c, path: path}, nil
}

func (s *rl) firstIteration() int { return s.ctrl.Steps() }

func (s *rl) propose(_, _, n, layers int, _ []Record) ([]proposal, error) {
	ps := make([]proposal, n)
	for k := range ps {
		smp, err := s.ctrl.Sample(layers)
		if err != nil {
			return nil, fmt.Errorf("search: rl: %w", err)
		}
		ps[k] = written(s.kind, layers, smp.Choices)
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
