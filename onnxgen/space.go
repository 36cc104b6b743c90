package onnxgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Space is a CNN search space: the options of each per-layer decision, the
// largest depth and whether skip connections are searched.
type Space struct {
	// Name names the space in error messages ("v1"); empty means "the space".
	Name string
	// KernelHeights and KernelWidths are the filter sizes (odd, so that
	// 'same' padding is symmetric at stride 1). Required: empty is invalid.
	KernelHeights, KernelWidths []int
	// Filters are the numbers of filters. Required: empty is invalid.
	Filters []int
	// StrideHeights and StrideWidths are the strides. Nil or empty means {1}:
	// strides are not searched and sh/sw tokens must be absent or 1.
	StrideHeights, StrideWidths []int
	// Pools are the max-pooling options: 0 for none, P ≥ 2 for a P×P max
	// pool with stride P after the layer's ReLU. Nil or empty means {0}:
	// pooling is not searched, the space has no p decision at all (its
	// programs and decision vectors are those of a space without the
	// field), and p tokens must be absent or p0.
	Pools []int
	// MaxLayers is the most layers an architecture may have; at least 1
	// (zero is invalid).
	MaxLayers int
	// Anchors says that skip connections are searched: any layer may be fed
	// by any set of earlier layers. When false (the zero value) the network
	// is a chain: layer 0 takes the image and every layer i > 0 is fed by
	// exactly layer i-1 (its string carries the token in<i-1>).
	Anchors bool
}

// SpaceV1 is the paper's CNN space without strides: kernels 1, 3, 5, 7 in
// both directions, 24, 36, 48 or 64 filters, stride 1, up to 15 layers, skip
// connections searched.
var SpaceV1 = Space{
	Name:          "v1",
	KernelHeights: []int{1, 3, 5, 7},
	KernelWidths:  []int{1, 3, 5, 7},
	Filters:       []int{24, 36, 48, 64},
	StrideHeights: []int{1},
	StrideWidths:  []int{1},
	MaxLayers:     15,
	Anchors:       true,
}

// SpaceV2 is SpaceV1 with strides 1, 2 or 3 searched in both directions and
// up to 20 layers.
var SpaceV2 = Space{
	Name:          "v2",
	KernelHeights: []int{1, 3, 5, 7},
	KernelWidths:  []int{1, 3, 5, 7},
	Filters:       []int{24, 36, 48, 64},
	StrideHeights: []int{1, 2, 3},
	StrideWidths:  []int{1, 2, 3},
	MaxLayers:     20,
	Anchors:       true,
}

// SpaceV3 is the paper's third space: SpaceV2 with max pooling searched per
// layer (none, or 2×2 with stride 2 after the layer's ReLU: tokens p0 and
// p2) and up to 39 layers (the depth of the paper's v3 network).
var SpaceV3 = Space{
	Name:          "v3",
	KernelHeights: []int{1, 3, 5, 7},
	KernelWidths:  []int{1, 3, 5, 7},
	Filters:       []int{24, 36, 48, 64},
	StrideHeights: []int{1, 2, 3},
	StrideWidths:  []int{1, 2, 3},
	Pools:         []int{0, 2},
	MaxLayers:     39,
	Anchors:       true,
}

// SpaceV3Wide is SpaceV3 with more filters: 24, 36, 48, 64, 96 or 128 (the
// paper's "v3 max pooling + more filters" widened its found network; here
// the wider choices are searched, and every v3 architecture is one of
// v3-wide).
var SpaceV3Wide = Space{
	Name:          "v3-wide",
	KernelHeights: []int{1, 3, 5, 7},
	KernelWidths:  []int{1, 3, 5, 7},
	Filters:       []int{24, 36, 48, 64, 96, 128},
	StrideHeights: []int{1, 2, 3},
	StrideWidths:  []int{1, 2, 3},
	Pools:         []int{0, 2},
	MaxLayers:     39,
	Anchors:       true,
}

// SpaceNames are the names SpaceByName knows, in order.
var SpaceNames = []string{"v1", "v2", "v3", "v3-wide"}

// SpaceByName returns a copy of a preset space: "v1" (SpaceV1), "v2"
// (SpaceV2), "v3" (SpaceV3) or "v3-wide" (SpaceV3Wide).
func SpaceByName(name string) (Space, error) {
	switch name {
	case "v1":
		return SpaceV1.clone(), nil
	case "v2":
		return SpaceV2.clone(), nil
	case "v3":
		return SpaceV3.clone(), nil
	case "v3-wide":
		return SpaceV3Wide.clone(), nil
	}
	return Space{}, fmt.Errorf("onnxgen: unknown search space %q (want %s)", name, strings.Join(SpaceNames, ", "))
}

func (s Space) clone() Space {
	s.KernelHeights = slices.Clone(s.KernelHeights)
	s.KernelWidths = slices.Clone(s.KernelWidths)
	s.Filters = slices.Clone(s.Filters)
	s.StrideHeights = slices.Clone(s.StrideHeights)
	s.StrideWidths = slices.Clone(s.StrideWidths)
	s.Pools = slices.Clone(s.Pools)
	return s
}

// options returns the options of decision f; strides default to {1}.
func (s Space) options(f field) []int {
	var o []int
	switch f {
	case fKH:
		o = s.KernelHeights
	case fKW:
		o = s.KernelWidths
	case fSH:
		o = s.StrideHeights
	case fSW:
		o = s.StrideWidths
	case fP:
		o = s.Pools
	default:
		o = s.Filters
	}
	switch {
	case len(o) == 0 && (f == fSH || f == fSW):
		return []int{1}
	case len(o) == 0 && f == fP:
		return []int{0}
	}
	return o
}

// hasPool says whether the space has a p decision: only when pooling is
// searched (its options are not just {0}), so that a space without pooling
// has the decisions and vectors it had before pooling existed.
func (s Space) hasPool() bool {
	o := s.options(fP)
	return !(len(o) == 1 && o[0] == 0)
}

func (s Space) label() string {
	if s.Name == "" {
		return "the space"
	}
	return "space " + s.Name
}

// Validate checks the space: non-empty kernel and filter lists, positive
// values without repeats, odd kernel sizes, MaxLayers at least 1.
func (s Space) Validate() error {
	for f := fKH; f < nFields; f++ {
		o := s.options(f)
		if len(o) == 0 {
			return fmt.Errorf("onnxgen: %s: no %s options", s.label(), fieldName[f])
		}
		for k, v := range o {
			switch {
			case f == fP && (v == 1 || v < 0 || v > maxValue):
				return fmt.Errorf("onnxgen: %s: %s %d is not 0 (none) or in 2..%d", s.label(), fieldName[f], v, maxValue)
			case f != fP && (v <= 0 || v > maxValue):
				return fmt.Errorf("onnxgen: %s: %s %d is not in 1..%d", s.label(), fieldName[f], v, maxValue)
			case (f == fKH || f == fKW) && v%2 == 0:
				return fmt.Errorf("onnxgen: %s: %s %d is even (want odd sizes, so that 'same' padding is symmetric)", s.label(), fieldName[f], v)
			case slices.Contains(o[:k], v):
				return fmt.Errorf("onnxgen: %s: %s %d is listed twice", s.label(), fieldName[f], v)
			}
		}
	}
	if s.MaxLayers < 1 {
		return fmt.Errorf("onnxgen: %s: MaxLayers %d (want at least 1)", s.label(), s.MaxLayers)
	}
	return nil
}

// Decision is one per-layer categorical decision of the controller: its name
// (the token prefix: "kh", "kw", "sh", "sw", "f" or "p") and the token of each
// option, in the space's order (e.g. "kh1", "kh3", "kh5", "kh7").
type Decision struct {
	Name   string
	Tokens []string
}

// Decisions lists the per-layer categorical decisions in the order the
// controller samples them: kh, kw, sh, sw, f, then p when the space searches
// pooling (a space without Pools has no p decision). A decision with one
// option (the strides of a space that does not search them) is fixed: it is
// written, not sampled. The layer's string is the chosen tokens joined by spaces, followed
// by the anchors: with Anchors, one AnchorPrefix+J token per chosen earlier
// layer J; without, the token AnchorPrefix+(i-1) for every layer i > 0.
// Layers are joined by LayerSeparator. Choices is the inverse.
func (s Space) Decisions() []Decision {
	var ds []Decision
	for f := fKH; f < nFields; f++ {
		if f == fP && !s.hasPool() {
			continue
		}
		d := Decision{Name: fieldPrefix[f]}
		for _, v := range s.options(f) {
			d.Tokens = append(d.Tokens, fieldPrefix[f]+strconv.Itoa(v))
		}
		ds = append(ds, d)
	}
	return ds
}

// Choices is the decision vector of an architecture of the space, in the
// order Decisions describes: per layer the index of its kh, kw, sh, sw, f
// (and p, when the space searches pooling) among their options, then with Anchors one entry per earlier layer j (1 if
// j feeds the layer, else 0). a must pass s.Check.
func (s Space) Choices(a Arch) ([]int, error) {
	if err := s.Check(a); err != nil {
		return nil, err
	}
	var out []int
	for i, l := range a.Layers {
		for f := fKH; f < nFields; f++ {
			if f == fP && !s.hasPool() {
				continue
			}
			out = append(out, slices.Index(s.options(f), *l.field(f)))
		}
		if !s.Anchors {
			continue
		}
		for j := 0; j < i; j++ {
			b := 0
			if slices.Contains(l.Inputs, j) {
				b = 1
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// ParseArch parses str (Parse) and checks it against the space: at most
// MaxLayers layers, every value among the options, and, when Anchors is
// false, layer i > 0 fed by exactly layer i-1. Errors are *ParseError with
// the position of the offending token (a default stride that is not an
// option is reported at the layer's end); an invalid space is reported as
// Validate reports it.
func (s Space) ParseArch(str string) (Arch, error) {
	if err := s.Validate(); err != nil {
		return Arch{}, err
	}
	p, err := parse(str)
	if err != nil {
		return Arch{}, err
	}
	if v := s.check(p.arch); v != nil {
		lp := p.layers[v.layer]
		pos := lp.end
		switch {
		case v.tooDeep:
			pos = lp.start - 1 // the "|" that opens the layer
		case v.input >= 0:
			pos = lp.inputs[v.input]
		case v.field >= 0 && lp.field[v.field] >= 0:
			pos = lp.field[v.field]
		}
		return Arch{}, p.errAt(pos, "%s", v.msg)
	}
	return p.arch, nil
}

// Check checks an Arch built in code: its structure (Arch.Validate) and the
// rules of ParseArch. Errors name the layer: "onnxgen: layer 3: ...".
func (s Space) Check(a Arch) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if v := s.check(a); v != nil {
		return fmt.Errorf("onnxgen: layer %d: %s", v.layer, v.msg)
	}
	return nil
}

// violation is the first way an architecture leaves a space.
type violation struct {
	layer   int
	field   field // the offending decision, or -1
	input   int   // the offending input layer, or -1
	tooDeep bool
	msg     string
}

// check finds the first violation of the space's rules in a structurally
// valid architecture, or nil.
func (s Space) check(a Arch) *violation {
	if len(a.Layers) > s.MaxLayers {
		return &violation{layer: s.MaxLayers, field: -1, input: -1, tooDeep: true,
			msg: fmt.Sprintf("%d layers, more than %s allows (want at most %d)", len(a.Layers), s.label(), s.MaxLayers)}
	}
	for i, l := range a.Layers {
		for f := fKH; f < nFields; f++ {
			o := s.options(f)
			if v := *l.field(f); !slices.Contains(o, v) {
				return &violation{layer: i, field: f, input: -1,
					msg: fmt.Sprintf("%s %d not in %s (want %s)", fieldName[f], v, s.label(), list(o))}
			}
		}
		if s.Anchors {
			continue
		}
		for _, j := range l.Inputs {
			if j != i-1 {
				return &violation{layer: i, field: -1, input: j,
					msg: fmt.Sprintf("layer %d cannot be fed by layer %d: %s has no skip connections (want %s)", i, j, s.label(), chainWant(i))}
			}
		}
		if i > 0 && len(l.Inputs) == 0 {
			return &violation{layer: i, field: -1, input: -1,
				msg: fmt.Sprintf("layer %d takes the image: %s has no skip connections (want %s)", i, s.label(), chainWant(i))}
		}
	}
	return nil
}

func chainWant(i int) string {
	if i == 0 {
		return "no in token in layer 0"
	}
	return fmt.Sprintf("only %s%d", AnchorPrefix, i-1)
}

func list(o []int) string {
	s := make([]string, len(o))
	for i, v := range o {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}
