package controller

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
)

// Decision is one per-layer decision of the search space: its name (e.g.
// "kh") and the token of each option in the order of the softmax's classes
// (e.g. "kh1", "kh3", "kh5", "kh7").
type Decision struct {
	Name   string
	Tokens []string
}

// layout is the controller's internal view of a space: the decisions it
// samples (those with two or more options), in the layer program's order,
// then the anchors (or the chain). It shapes the weights and the training
// graph; its fingerprint keys the checkpoint (the encoding is that of the
// space type of earlier versions, so their checkpoints still load).
type layout struct {
	// Decisions are the sampled per-layer decisions in sampling order.
	Decisions []Decision
	// Anchors turns the skip-connection (anchor) decisions on. Off, layer
	// i > 0 always reads layer i−1 (a chain).
	Anchors bool
	// AnchorPrefix is the token prefix of an input edge: AnchorPrefix+"J"
	// means layer J feeds this layer (e.g. "in").
	AnchorPrefix string
	// LayerSep separates layers in an architecture string (e.g. " | ").
	LayerSep string
}

// Validate checks that every architecture the layout can produce is a
// well-formed token string: at least one decision, unique non-empty names,
// at least one option per decision, tokens unique within the space,
// non-empty and free of white space, no token starting with AnchorPrefix,
// a non-empty AnchorPrefix without white space, and a LayerSep whose
// non-blank part is a token no decision uses.
func (s layout) Validate() error {
	if len(s.Decisions) == 0 {
		return fmt.Errorf("controller: space: no decisions")
	}
	if s.AnchorPrefix == "" || strings.IndexFunc(s.AnchorPrefix, unicode.IsSpace) >= 0 {
		return fmt.Errorf("controller: space: anchor prefix %q must be non-empty without white space", s.AnchorPrefix)
	}
	sep := strings.TrimSpace(s.LayerSep)
	if sep == "" {
		return fmt.Errorf("controller: space: layer separator %q has no visible token", s.LayerSep)
	}
	names := map[string]bool{}
	toks := map[string]bool{sep: true}
	for i, d := range s.Decisions {
		if d.Name == "" {
			return fmt.Errorf("controller: space: decision %d has no name", i)
		}
		if names[d.Name] {
			return fmt.Errorf("controller: space: decision %d: duplicate name %q", i, d.Name)
		}
		names[d.Name] = true
		if len(d.Tokens) == 0 {
			return fmt.Errorf("controller: space: decision %q has no options", d.Name)
		}
		for k, t := range d.Tokens {
			switch {
			case t == "" || strings.IndexFunc(t, unicode.IsSpace) >= 0:
				return fmt.Errorf("controller: space: decision %q option %d: token %q must be non-empty without white space", d.Name, k, t)
			case strings.HasPrefix(t, s.AnchorPrefix):
				return fmt.Errorf("controller: space: decision %q option %d: token %q starts with the anchor prefix %q", d.Name, k, t, s.AnchorPrefix)
			case toks[t]:
				return fmt.Errorf("controller: space: decision %q option %d: token %q used twice", d.Name, k, t)
			}
			toks[t] = true
		}
	}
	return nil
}

// fingerprint is a SHA-256 over everything of the space that shapes the
// weights or the strings: a checkpoint is only valid for the same one.
func (s layout) fingerprint() [32]byte {
	h := sha256.New()
	str := func(x string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(x)))
		h.Write(n[:])
		h.Write([]byte(x))
	}
	str("nas-controller-space-v1")
	str(fmt.Sprint(len(s.Decisions), s.Anchors))
	str(s.AnchorPrefix)
	str(s.LayerSep)
	for _, d := range s.Decisions {
		str(d.Name)
		str(fmt.Sprint(len(d.Tokens)))
		for _, t := range d.Tokens {
			str(t)
		}
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// clone deep-copies s so that callers cannot change a controller's space.
func (s layout) clone() layout {
	c := s
	c.Decisions = make([]Decision, len(s.Decisions))
	for i, d := range s.Decisions {
		c.Decisions[i] = Decision{Name: d.Name, Tokens: append([]string(nil), d.Tokens...)}
	}
	return c
}

// NumChoices is the number of sampled choices of an architecture of the
// given number of layers: one per decision per layer, plus, with anchors, i
// binary choices for layer i.
func (s layout) NumChoices(layers int) int {
	n := layers * len(s.Decisions)
	if s.Anchors {
		n += layers * (layers - 1) / 2
	}
	return n
}
