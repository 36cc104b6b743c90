package controller

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		bad  string // "" = valid
	}{
		{"zero value is the paper's controller", Config{}, ""},
		{"negative hidden", Config{Hidden: -1}, "hidden"},
		{"negative layers", Config{LSTMLayers: -2}, "lstm layers"},
		{"huge embedding", Config{Embedding: 1 << 20}, "embedding"},
		{"init range above 1", Config{InitRange: 2}, "init range"},
		{"negative lr", Config{LR: -1}, "learning rate"},
		{"NaN lr", Config{LR: math.NaN()}, "learning rate"},
		{"decay 1 never moves", Config{BaselineDecay: 1}, "baseline decay"},
		{"negative entropy", Config{EntropyWeight: -0.1}, "entropy"},
		{"infinite clip", Config{ClipNorm: math.Inf(1)}, "clip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad) || !strings.HasPrefix(err.Error(), "controller: config: ")) {
				t.Fatalf("got %v, want %q", err, tc.bad)
			}
		})
	}
	d := Config{}.withDefaults()
	if d.Hidden != 35 || d.LSTMLayers != 2 || d.Embedding != 35 || d.InitRange != 0.08 || d.LR != 0.0006 || d.BaselineDecay != 0.95 || d.EntropyWeight != 0 || d.ClipNorm != 0 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestSpaceValidate(t *testing.T) {
	mod := func(f func(*Space)) Space { s := v2Space(true); f(&s); return s }
	cases := []struct {
		name string
		sp   Space
		bad  string
	}{
		{"v2", v2Space(true), ""},
		{"no decisions", mod(func(s *Space) { s.Decisions = nil }), "no decisions"},
		{"no anchor prefix", mod(func(s *Space) { s.AnchorPrefix = "" }), "anchor prefix"},
		{"blank separator", mod(func(s *Space) { s.LayerSep = "  " }), "separator"},
		{"duplicate name", mod(func(s *Space) { s.Decisions[1].Name = "kh" }), "duplicate"},
		{"no options", mod(func(s *Space) { s.Decisions[2].Tokens = nil }), "no options"},
		{"space in token", mod(func(s *Space) { s.Decisions[0].Tokens[0] = "kh 1" }), "white space"},
		{"token with anchor prefix", mod(func(s *Space) { s.Decisions[0].Tokens[0] = "in3" }), "anchor prefix"},
		{"token twice", mod(func(s *Space) { s.Decisions[1].Tokens[0] = "kh1" }), "twice"},
		{"separator as token", mod(func(s *Space) { s.Decisions[1].Tokens[0] = "|" }), "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sp.Validate()
			if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
				t.Fatalf("got %v, want %q", err, tc.bad)
			}
			if _, nerr := New(Config{}, tc.sp); (nerr == nil) != (err == nil) {
				t.Fatalf("New: %v, Validate: %v", nerr, err)
			}
		})
	}
}

// checkArch parses an architecture string by the language's rules and
// checks it against the choices that produced it.
func checkArch(t *testing.T, sp Space, s Sample) {
	t.Helper()
	layers := strings.Split(s.Arch, sp.LayerSep)
	if len(layers) != s.Layers {
		t.Fatalf("%q: %d layers, want %d", s.Arch, len(layers), s.Layers)
	}
	c := 0
	for i, l := range layers {
		toks := strings.Split(l, " ")
		for d, dec := range sp.Decisions {
			if toks[d] != dec.Tokens[s.Choices[c]] {
				t.Fatalf("%q layer %d: token %q, want %q", s.Arch, i, toks[d], dec.Tokens[s.Choices[c]])
			}
			c++
		}
		var ins []int
		for _, tok := range toks[len(sp.Decisions):] {
			j, err := strconv.Atoi(strings.TrimPrefix(tok, sp.AnchorPrefix))
			if err != nil || !strings.HasPrefix(tok, sp.AnchorPrefix) || j >= i || len(ins) > 0 && j <= ins[len(ins)-1] {
				t.Fatalf("%q layer %d: bad input token %q", s.Arch, i, tok)
			}
			ins = append(ins, j)
		}
		if !sp.Anchors {
			if i > 0 && (len(ins) != 1 || ins[0] != i-1) || i == 0 && len(ins) != 0 {
				t.Fatalf("%q layer %d: chain wants in%d, got %v", s.Arch, i, i-1, ins)
			}
			continue
		}
		k := 0
		for j := 0; j < i; j++ {
			if want := s.Choices[c] == 1; want != (k < len(ins) && ins[k] == j) {
				t.Fatalf("%q layer %d: anchor %d choice %d disagrees with inputs %v", s.Arch, i, j, s.Choices[c], ins)
			} else if want {
				k++
			}
			c++
		}
	}
	if c != len(s.Choices) {
		t.Fatalf("%d choices, used %d", len(s.Choices), c)
	}
}

func TestSampleAndGreedy(t *testing.T) {
	for _, anchors := range []bool{true, false} {
		sp := v2Space(anchors)
		c := mustNew(t, Config{Seed: 5, InitRange: 1}, sp)
		seen := map[string]bool{}
		for n := 1; n <= 8; n++ {
			s, err := c.Sample(n)
			if err != nil {
				t.Fatal(err)
			}
			checkArch(t, sp, s)
			if len(s.Choices) != sp.NumChoices(n) || s.LogProb >= 0 || math.IsNaN(s.LogProb) {
				t.Fatalf("sample %+v", s)
			}
			lp, err := c.LogProb(n, s.Choices)
			if err != nil || lp != s.LogProb {
				t.Fatalf("LogProb %v (%v), sample says %v", lp, err, s.LogProb)
			}
			seen[s.Arch] = true
		}
		if len(seen) != 8 {
			t.Fatalf("8 samples, %d distinct", len(seen))
		}
		// same seed, same samples
		d := mustNew(t, Config{Seed: 5, InitRange: 1}, sp)
		for n := 1; n <= 8; n++ {
			s, _ := d.Sample(n)
			if !seen[s.Arch] {
				t.Fatalf("seed 5 sample %q not reproduced", s.Arch)
			}
		}
		// Greedy uses no randomness and picks the argmax of each decision
		g1, _ := c.Greedy(6)
		g2, _ := c.Greedy(6)
		checkArch(t, sp, g1)
		if g1.Arch != g2.Arch {
			t.Fatalf("greedy differs: %q vs %q", g1.Arch, g2.Arch)
		}
		// changing the last choice alters no earlier probability: greedy's
		// must be the most likely option there
		last := len(g1.Choices) - 1
		opts := 2
		if !anchors {
			opts = len(sp.Decisions[len(sp.Decisions)-1].Tokens)
		}
		for a := range opts {
			alt := append([]int(nil), g1.Choices...)
			alt[last] = a
			if lp, _ := c.LogProb(6, alt); lp > g1.LogProb {
				t.Fatalf("last choice %d is likelier (%v) than greedy's %d (%v)", a, lp, g1.Choices[last], g1.LogProb)
			}
		}
	}
	if s, _ := mustNew(t, Config{}, v2Space(true)).Sample(1); s.Arch == "" || strings.Contains(s.Arch, "in") {
		t.Fatalf("one layer: %q", s.Arch)
	}
}

func TestUpdateErrors(t *testing.T) {
	sp := tinySpace(true)
	c := mustNew(t, Config{Seed: 1, Hidden: 4}, sp)
	s, _ := c.Sample(3)
	ok := Episode{Layers: 3, Choices: s.Choices, Reward: 1}
	bad := func(f func(*Episode)) []Episode {
		e := ok
		e.Choices = append([]int(nil), ok.Choices...)
		f(&e)
		return []Episode{ok, e}
	}
	cases := []struct {
		name string
		eps  []Episode
		msg  string
	}{
		{"empty", nil, "no episodes"},
		{"zero layers", bad(func(e *Episode) { e.Layers = 0 }), "layers 0"},
		{"short choices", bad(func(e *Episode) { e.Choices = e.Choices[1:] }), "choices for 3 layers"},
		{"option out of range", bad(func(e *Episode) { e.Choices[1] = 2 }), "out of range"},
		{"anchor not binary", bad(func(e *Episode) { e.Choices[4] = 2 }), "not 0 or 1"},
		{"NaN reward", bad(func(e *Episode) { e.Reward = math.NaN() }), "not finite"},
	}
	before := stateHash(c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Update(tc.eps)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "controller: ") {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
		})
	}
	if stateHash(c) != before || c.Steps() != 0 {
		t.Fatal("a rejected update changed the state")
	}
	if _, err := c.Sample(0); err == nil {
		t.Fatal("Sample(0): no error")
	}
	if _, err := c.Greedy(MaxLayers + 1); err == nil {
		t.Fatal("Greedy(MaxLayers+1): no error")
	}
}

// TestBaseline: the first batch sets b to its mean; later batches use the
// old b and then move it by the EMA.
func TestBaseline(t *testing.T) {
	c := mustNew(t, Config{Seed: 1, Hidden: 4, BaselineDecay: 0.5}, tinySpace(false))
	s, _ := c.Sample(2)
	st, err := c.Update([]Episode{{2, s.Choices, 1}, {2, s.Choices, 3}})
	if err != nil || st.Baseline != 2 || st.MeanReward != 2 {
		t.Fatalf("first batch: %+v, %v", st, err)
	}
	st, _ = c.Update([]Episode{{2, s.Choices, 6}})
	if b, set := c.Baseline(); st.Baseline != 2 || b != 4 || !set {
		t.Fatalf("second batch used %v, baseline now %v; want 2 then 4", st.Baseline, b)
	}
}

// TestGraphCache: one graph per (group size, depth), built once and reused;
// a mixed-depth batch is split by depth.
func TestGraphCache(t *testing.T) {
	c := mustNew(t, Config{Seed: 2, Hidden: 5}, tinySpace(true))
	reward := func(s Sample) float64 { return float64(len(s.Arch)) }
	if _, err := c.Update(sampleEpisodes(t, c, []int{3, 3}, reward)); err != nil {
		t.Fatal(err)
	}
	g := c.graphs[[2]int{2, 3}]
	if g == nil || len(c.graphs) != 1 {
		t.Fatalf("graphs %v", c.graphs)
	}
	for range 3 {
		if _, err := c.Update(sampleEpisodes(t, c, []int{3, 3}, reward)); err != nil {
			t.Fatal(err)
		}
	}
	if c.graphs[[2]int{2, 3}] != g || len(c.graphs) != 1 {
		t.Fatal("graph rebuilt for an old shape")
	}
	if _, err := c.Update(sampleEpisodes(t, c, []int{2, 3, 2}, reward)); err != nil {
		t.Fatal(err)
	}
	if c.graphs[[2]int{2, 2}] == nil || c.graphs[[2]int{1, 3}] == nil || len(c.graphs) != 3 {
		t.Fatalf("mixed batch: graphs %v", c.graphs)
	}
}
