package controller

import (
	"fmt"
	"testing"
)

// dec is a decision whose tokens are name followed by each value.
func dec(name string, vals ...int) Decision {
	d := Decision{Name: name}
	for _, v := range vals {
		d.Tokens = append(d.Tokens, fmt.Sprintf("%s%d", name, v))
	}
	return d
}

// v2Space is the paper's CNN space with predicted strides (v2).
func v2Space(anchors bool) Space {
	return Layered([]Decision{
		dec("kh", 1, 3, 5, 7), dec("kw", 1, 3, 5, 7),
		dec("sh", 1, 2, 3), dec("sw", 1, 2, 3),
		dec("f", 24, 36, 48, 64),
	}, anchors, "in", " | ")
}

// v1Space is the paper's CNN space without predicted strides, with
// anchors. With fixed, the strides are decisions of one option (sh1, sw1):
// written in every layer, never sampled; without, they are not in the
// program at all.
func v1Space(fixed bool) Space {
	ds := []Decision{dec("kh", 1, 3, 5, 7), dec("kw", 1, 3, 5, 7)}
	if fixed {
		ds = append(ds, dec("sh", 1), dec("sw", 1))
	}
	ds = append(ds, dec("f", 24, 36, 48, 64))
	return Layered(ds, true, "in", " | ")
}

// tinySpace is small enough for finite differences.
func tinySpace(anchors bool) Space {
	return Layered([]Decision{
		{Name: "kh", Tokens: []string{"kh1", "kh3", "kh5"}},
		{Name: "f", Tokens: []string{"f8", "f16"}},
	}, anchors, "in", " | ")
}

// dropFixed is a decision vector of sp without the entries of its fixed
// (one-option) decisions: the vector of the same program without them.
// It reads Positions, independently of the controller's own mapping.
func dropFixed(sp Space, layers int, choices []int) []int {
	var out []int
	for t, p := range sp.Positions(layers) {
		if p.Options != 1 {
			out = append(out, choices[t])
		}
	}
	return out
}

func mustNew(t testing.TB, cfg Config, sp Space) *Controller {
	t.Helper()
	c, err := New(cfg, sp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sampleEpisodes(t testing.TB, c *Controller, depths []int, reward func(Sample) float64) []Episode {
	t.Helper()
	var eps []Episode
	for _, d := range depths {
		s, err := c.Sample(d)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, Episode{Layers: s.Layers, Choices: s.Choices, Reward: reward(s)})
	}
	return eps
}
