package controller

import (
	"fmt"
	"strconv"
	"strings"
)

// StepKind is the kind of one decision step of a layer's program.
type StepKind int

const (
	// Choice picks one token of a Decision.
	Choice StepKind = iota + 1
	// Anchors picks a set of earlier layers: one binary choice per earlier
	// layer j < i, written Prefix+"j" for each chosen j (skip connections).
	Anchors
	// Chain is no choice: layer i > 0 reads layer i−1, written Prefix+"(i−1)".
	Chain
	// Pointer picks one earlier node (the cell search's inputs). Reserved:
	// Validate refuses it until a space needs it.
	Pointer
)

func (k StepKind) String() string {
	switch k {
	case Choice:
		return "choice"
	case Anchors:
		return "anchors"
	case Chain:
		return "chain"
	case Pointer:
		return "pointer"
	}
	return fmt.Sprintf("StepKind(%d)", int(k))
}

// Step is one step of a layer's program.
type Step struct {
	Kind StepKind
	// Decision is the index in Space.Decisions of a Choice step.
	Decision int
	// Prefix is the token prefix of an input edge of an Anchors, Chain or
	// Pointer step (e.g. "in").
	Prefix string
}

// Space is a search space as a program of decisions, as the search package
// builds it for a kind of child: the program of one layer, run for every
// layer of an architecture, writes the architecture string. The controller
// samples it; random search and evolution draw and mutate the same decision
// vectors (Positions, Format).
type Space struct {
	// Decisions are the categorical decisions the program's Choice steps
	// pick from. A decision with one option is fixed: it is written, never
	// sampled (the controller spends no step on it).
	Decisions []Decision
	// Layer is the program of one layer, in order. The controller supports
	// Choice steps, each decision at most once, then at most one Anchors or
	// Chain step, last.
	Layer []Step
	// LayerSep separates layers in an architecture string (e.g. " | ").
	LayerSep string
}

// Layered is the program of a CNN-like space: every decision in order, then
// the anchors (anchors true) or the chain, written with prefix.
func Layered(decisions []Decision, anchors bool, prefix, sep string) Space {
	sp := Space{Decisions: decisions, LayerSep: sep}
	for d := range decisions {
		sp.Layer = append(sp.Layer, Step{Kind: Choice, Decision: d})
	}
	k := Chain
	if anchors {
		k = Anchors
	}
	sp.Layer = append(sp.Layer, Step{Kind: k, Prefix: prefix})
	return sp
}

// Validate checks the program: at least one step, every Choice naming a
// decision, each decision used by exactly one step, an Anchors or Chain step
// last (and nowhere else), no Pointer, at least one decision with two or
// more options; and that every architecture it writes is a
// well-formed token string (see layout.Validate: tokens unique, non-empty,
// free of white space, none starting with the input prefix; a visible
// separator).
func (s Space) Validate() error {
	if len(s.Layer) == 0 {
		return fmt.Errorf("controller: space: the layer program has no steps")
	}
	used := make([]bool, len(s.Decisions))
	for i, st := range s.Layer {
		switch st.Kind {
		case Choice:
			if st.Decision < 0 || st.Decision >= len(s.Decisions) {
				return fmt.Errorf("controller: space: step %d: decision %d of %d", i, st.Decision, len(s.Decisions))
			}
			if used[st.Decision] {
				return fmt.Errorf("controller: space: step %d: decision %q used twice in a layer", i, s.Decisions[st.Decision].Name)
			}
			used[st.Decision] = true
		case Anchors, Chain:
			if i != len(s.Layer)-1 {
				return fmt.Errorf("controller: space: step %d: the %s step must be the layer's last", i, st.Kind)
			}
		case Pointer:
			return fmt.Errorf("controller: space: step %d: pointer steps are not supported yet", i)
		default:
			return fmt.Errorf("controller: space: step %d: unknown kind %v", i, st.Kind)
		}
	}
	for d, u := range used {
		if !u {
			return fmt.Errorf("controller: space: decision %q is used by no step", s.Decisions[d].Name)
		}
	}
	if _, ok := s.input(); !ok {
		return fmt.Errorf("controller: space: the layer program must end with an anchors or chain step")
	}
	// Every token, fixed ones included, as the layout checks its own.
	all := s.layout()
	all.Decisions = nil
	for _, st := range s.Layer {
		if st.Kind == Choice {
			all.Decisions = append(all.Decisions, s.Decisions[st.Decision])
		}
	}
	if err := all.Validate(); err != nil {
		return err
	}
	if len(s.layout().Decisions) == 0 {
		return fmt.Errorf("controller: space: no decision has two or more options: nothing to sample")
	}
	return nil
}

// input is the program's Anchors or Chain step, if it has one.
func (s Space) input() (Step, bool) {
	if n := len(s.Layer); n > 0 && (s.Layer[n-1].Kind == Anchors || s.Layer[n-1].Kind == Chain) {
		return s.Layer[n-1], true
	}
	return Step{}, false
}

// layout is the controller's view of a valid program: the sampled decisions
// in step order, and the input step.
func (s Space) layout() layout {
	l := layout{LayerSep: s.LayerSep}
	for _, st := range s.Layer {
		if st.Kind == Choice && st.Decision >= 0 && st.Decision < len(s.Decisions) && len(s.Decisions[st.Decision].Tokens) > 1 {
			l.Decisions = append(l.Decisions, s.Decisions[st.Decision])
		}
	}
	if in, ok := s.input(); ok {
		l.Anchors, l.AnchorPrefix = in.Kind == Anchors, in.Prefix
	}
	return l
}

func (s Space) clone() Space {
	c := s
	c.Decisions = layout{Decisions: s.Decisions}.clone().Decisions
	c.Layer = append([]Step(nil), s.Layer...)
	return c
}

// Position is one entry of a decision vector: the layer and program step it
// belongs to, its number of options, and for an anchor the earlier layer it
// connects.
type Position struct {
	Layer, Step int
	Options     int
	Earlier     int // Anchors: the earlier layer j; else -1
}

// Positions lists the decision vector of an architecture of the given
// depth, in order: per layer, one entry per Choice step (fixed decisions
// included, with one option), then one binary entry per earlier layer of an
// Anchors step. A Chain step has none.
func (s Space) Positions(layers int) []Position {
	var ps []Position
	for i := 0; i < layers; i++ {
		for k, st := range s.Layer {
			switch st.Kind {
			case Choice:
				ps = append(ps, Position{Layer: i, Step: k, Options: len(s.Decisions[st.Decision].Tokens), Earlier: -1})
			case Anchors:
				for j := 0; j < i; j++ {
					ps = append(ps, Position{Layer: i, Step: k, Options: 2, Earlier: j})
				}
			}
		}
	}
	return ps
}

// NumChoices is the length of a decision vector (Sample.Choices,
// Episode.Choices) of the given depth: len(Positions(layers)).
func (s Space) NumChoices(layers int) int {
	n := 0
	anchors := false
	for _, st := range s.Layer {
		switch st.Kind {
		case Choice:
			n++
		case Anchors:
			anchors = true
		}
	}
	n *= layers
	if anchors {
		n += layers * (layers - 1) / 2
	}
	return n
}

// Check reports the first entry of choices outside its options, or a
// length that is not NumChoices(layers).
func (s Space) Check(layers int, choices []int) error {
	ps := s.Positions(layers)
	if len(choices) != len(ps) {
		return fmt.Errorf("controller: %d choices for %d layers, want %d", len(choices), layers, len(ps))
	}
	for t, p := range ps {
		if a := choices[t]; a < 0 || a >= p.Options {
			if p.Earlier >= 0 {
				return fmt.Errorf("controller: choice %d (layer %d, anchor %d): %d is not 0 or 1", t, p.Layer, p.Earlier, a)
			}
			d := s.Decisions[s.Layer[p.Step].Decision]
			return fmt.Errorf("controller: choice %d (layer %d, %s): option %d out of range [0, %d)", t, p.Layer, d.Name, a, p.Options)
		}
	}
	return nil
}

// Format writes the architecture string of a decision vector: per layer the
// chosen tokens in step order, separated by spaces, then Prefix+j for each
// chosen earlier layer j ascending (a Chain: Prefix+(i−1) for layer i > 0),
// layers joined by LayerSep. choices must pass Check.
func (s Space) Format(layers int, choices []int) string {
	var sb strings.Builder
	t := 0
	for i := 0; i < layers; i++ {
		if i > 0 {
			sb.WriteString(s.LayerSep)
		}
		first := true
		word := func(parts ...string) {
			if !first {
				sb.WriteByte(' ')
			}
			first = false
			for _, p := range parts {
				sb.WriteString(p)
			}
		}
		for _, st := range s.Layer {
			switch st.Kind {
			case Choice:
				word(s.Decisions[st.Decision].Tokens[choices[t]])
				t++
			case Anchors:
				for j := 0; j < i; j++ {
					if choices[t] == 1 {
						word(st.Prefix, strconv.Itoa(j))
					}
					t++
				}
			case Chain:
				if i > 0 {
					word(st.Prefix, strconv.Itoa(i-1))
				}
			}
		}
	}
	return sb.String()
}

// sampled maps a decision vector to the layout's (the entries the
// controller samples: no fixed decision) and back.
type sampled struct {
	keep    []bool // per Choice step of the program: sampled
	anchors bool
}

func newSampled(s Space) sampled {
	var m sampled
	for _, st := range s.Layer {
		switch st.Kind {
		case Choice:
			m.keep = append(m.keep, len(s.Decisions[st.Decision].Tokens) > 1)
		case Anchors:
			m.anchors = true
		}
	}
	return m
}

// compact drops the fixed entries of a full vector (one that passed Check).
func (m sampled) compact(layers int, full []int) []int {
	out := make([]int, 0, len(full))
	t := 0
	for i := 0; i < layers; i++ {
		for _, k := range m.keep {
			if k {
				out = append(out, full[t])
			}
			t++
		}
		if m.anchors {
			out = append(out, full[t:t+i]...)
			t += i
		}
	}
	return out
}

// expand inserts the fixed entries (option 0, the only one) into a layout
// vector.
func (m sampled) expand(layers int, short []int) []int {
	out := make([]int, 0, len(short)+layers*len(m.keep))
	t := 0
	for i := 0; i < layers; i++ {
		for _, k := range m.keep {
			if k {
				out = append(out, short[t])
				t++
			} else {
				out = append(out, 0)
			}
		}
		if m.anchors {
			out = append(out, short[t:t+i]...)
			t += i
		}
	}
	return out
}
