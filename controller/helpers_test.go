package controller

import (
	"fmt"
	"testing"
)

// v2Space is the paper's CNN space with predicted strides (v2).
func v2Space(anchors bool) Space {
	dec := func(name string, vals ...int) Decision {
		d := Decision{Name: name}
		for _, v := range vals {
			d.Tokens = append(d.Tokens, fmt.Sprintf("%s%d", name, v))
		}
		return d
	}
	return Space{
		Decisions: []Decision{
			dec("kh", 1, 3, 5, 7), dec("kw", 1, 3, 5, 7),
			dec("sh", 1, 2, 3), dec("sw", 1, 2, 3),
			dec("f", 24, 36, 48, 64),
		},
		Anchors: anchors, AnchorPrefix: "in", LayerSep: " | ",
	}
}

// tinySpace is small enough for finite differences.
func tinySpace(anchors bool) Space {
	return Space{
		Decisions: []Decision{
			{Name: "kh", Tokens: []string{"kh1", "kh3", "kh5"}},
			{Name: "f", Tokens: []string{"f8", "f16"}},
		},
		Anchors: anchors, AnchorPrefix: "in", LayerSep: " | ",
	}
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
