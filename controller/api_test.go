package controller

import (
	"bytes"
	"math"
	"reflect"
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
	d := Config{}.WithDefaults()
	if d.Hidden != 35 || d.LSTMLayers != 2 || d.Embedding != 35 || d.InitRange != 0.08 || d.LR != 0.0006 || d.BaselineDecay != 0.95 || d.EntropyWeight != 0 || d.ClipNorm != 0 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestSpaceValidate(t *testing.T) {
	mod := func(f func(*Space)) Space { s := v2Space(true); f(&s); return s }
	last := func(s *Space) *Step { return &s.Layer[len(s.Layer)-1] }
	cases := []struct {
		name string
		sp   Space
		bad  string
	}{
		{"v2", v2Space(true), ""},
		{"v2 chain", v2Space(false), ""},
		{"v1 with fixed strides", v1Space(true), ""},
		{"choices out of decision order", mod(func(s *Space) { s.Layer[0].Decision, s.Layer[4].Decision = 4, 0 }), ""},
		{"no decisions", mod(func(s *Space) { s.Decisions = nil; s.Layer = s.Layer[len(s.Layer)-1:] }), "no decisions"},
		{"no anchor prefix", mod(func(s *Space) { last(s).Prefix = "" }), "anchor prefix"},
		{"no chain prefix", func() Space { s := v2Space(false); last(&s).Prefix = ""; return s }(), "anchor prefix"},
		{"prefix with white space", mod(func(s *Space) { last(s).Prefix = "i n" }), "anchor prefix"},
		{"blank separator", mod(func(s *Space) { s.LayerSep = "  " }), "separator"},
		{"duplicate name", mod(func(s *Space) { s.Decisions[1].Name = "kh" }), "duplicate"},
		{"no options", mod(func(s *Space) { s.Decisions[2].Tokens = nil }), "no options"},
		{"space in token", mod(func(s *Space) { s.Decisions[0].Tokens[0] = "kh 1" }), "white space"},
		{"token with anchor prefix", mod(func(s *Space) { s.Decisions[0].Tokens[0] = "in3" }), "anchor prefix"},
		{"token twice", mod(func(s *Space) { s.Decisions[1].Tokens[0] = "kh1" }), "twice"},
		{"separator as token", mod(func(s *Space) { s.Decisions[1].Tokens[0] = "|" }), "twice"},
		// A fixed decision's token is written, so it obeys the same rules.
		{"fixed token with anchor prefix", mod(func(s *Space) { s.Decisions[2].Tokens = []string{"in1"} }), "anchor prefix"},
		{"fixed token twice", mod(func(s *Space) { s.Decisions[2].Tokens = []string{"kh1"} }), "twice"},
		{"fixed token with white space", mod(func(s *Space) { s.Decisions[2].Tokens = []string{"s h"} }), "white space"},
		// The program's own rules.
		{"no steps", mod(func(s *Space) { s.Layer = nil }), "no steps"},
		{"choice after the anchors", mod(func(s *Space) {
			s.Layer = append(append(append([]Step(nil), s.Layer[:4]...), *last(s)), s.Layer[4])
		}), "anchors step must be the layer's last"},
		{"chain before the anchors", mod(func(s *Space) {
			s.Layer = append(append(s.Layer[:5:5], Step{Kind: Chain, Prefix: "in"}), *last(s))
		}), "chain step must be the layer's last"},
		{"decision index past the end", mod(func(s *Space) { s.Layer[4].Decision = 5 }), "decision 5 of 5"},
		{"negative decision index", mod(func(s *Space) { s.Layer[0].Decision = -1 }), "decision -1 of 5"},
		{"decision used twice", mod(func(s *Space) { s.Layer[1].Decision = 0 }), `decision "kh" used twice`},
		{"decision used by no step", mod(func(s *Space) { s.Layer = append(s.Layer[:4:4], *last(s)) }), `decision "f" is used by no step`},
		{"pointer step", mod(func(s *Space) {
			s.Layer = append(append(s.Layer[:5:5], Step{Kind: Pointer, Prefix: "in"}), *last(s))
		}), "pointer steps are not supported"},
		{"pointer as the input step", mod(func(s *Space) { last(s).Kind = Pointer }), "pointer steps are not supported"},
		{"unknown step kind", mod(func(s *Space) { s.Layer[2].Kind = 0 }), "unknown kind"},
		{"no input step", mod(func(s *Space) { s.Layer = s.Layer[:len(s.Layer)-1] }), "must end with an anchors or chain step"},
		{"only fixed decisions", mod(func(s *Space) {
			for d := range s.Decisions {
				s.Decisions[d].Tokens = s.Decisions[d].Tokens[:1]
			}
		}), "nothing to sample"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sp.Validate()
			if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad) || !strings.HasPrefix(err.Error(), "controller: space: ")) {
				t.Fatalf("got %v, want %q", err, tc.bad)
			}
			if _, nerr := New(Config{}, tc.sp); (nerr == nil) != (err == nil) {
				t.Fatalf("New: %v, Validate: %v", nerr, err)
			}
		})
	}
}

func TestStepKindString(t *testing.T) {
	for k, want := range map[StepKind]string{Choice: "choice", Anchors: "anchors", Chain: "chain", Pointer: "pointer", 0: "StepKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", int(k), got, want)
		}
	}
}

// TestLayered: the program of a CNN-like space is every decision in order,
// then the input step.
func TestLayered(t *testing.T) {
	ds := []Decision{dec("a", 1, 2), dec("b", 1)}
	for _, anchors := range []bool{true, false} {
		in := Step{Kind: Chain, Prefix: "p"}
		if anchors {
			in.Kind = Anchors
		}
		want := Space{Decisions: ds, Layer: []Step{{Kind: Choice, Decision: 0}, {Kind: Choice, Decision: 1}, in}, LayerSep: " / "}
		if got := Layered(ds, anchors, "p", " / "); !reflect.DeepEqual(got, want) {
			t.Errorf("anchors %v: %+v, want %+v", anchors, got, want)
		}
	}
}

// TestProgramVectors: Positions, NumChoices, Check and Format of programs
// with fixed decisions, a chain, and choices out of decision order.
func TestProgramVectors(t *testing.T) {
	v1 := v1Space(true)
	wantPos := []Position{
		{0, 0, 4, -1}, {0, 1, 4, -1}, {0, 2, 1, -1}, {0, 3, 1, -1}, {0, 4, 4, -1},
		{1, 0, 4, -1}, {1, 1, 4, -1}, {1, 2, 1, -1}, {1, 3, 1, -1}, {1, 4, 4, -1}, {1, 5, 2, 0},
	}
	if got := v1.Positions(2); !reflect.DeepEqual(got, wantPos) {
		t.Fatalf("v1 positions:\n got %v\nwant %v", got, wantPos)
	}
	// the order of the steps, not of Decisions; an input step without
	// entries in a chain
	reord := Space{
		Decisions: []Decision{dec("kh", 1, 3, 5), dec("f", 8, 16), dec("g", 1)},
		Layer:     []Step{{Kind: Choice, Decision: 1}, {Kind: Choice, Decision: 2}, {Kind: Choice, Decision: 0}, {Kind: Anchors, Prefix: "x"}},
		LayerSep:  " ; ",
	}
	if err := reord.Validate(); err != nil {
		t.Fatal(err)
	}
	wantPos = []Position{{0, 0, 2, -1}, {0, 1, 1, -1}, {0, 2, 3, -1}, {1, 0, 2, -1}, {1, 1, 1, -1}, {1, 2, 3, -1}, {1, 3, 2, 0}}
	if got := reord.Positions(2); !reflect.DeepEqual(got, wantPos) {
		t.Fatalf("reordered positions:\n got %v\nwant %v", got, wantPos)
	}
	v1chain := Layered(v1.Decisions, false, "in", " | ")
	for _, sp := range []Space{v1, v1chain, reord, v2Space(true), v2Space(false), tinySpace(true)} {
		for L := 1; L <= 6; L++ {
			if n, ps := sp.NumChoices(L), sp.Positions(L); n != len(ps) {
				t.Fatalf("%v, %d layers: NumChoices %d, %d positions", sp.Layer, L, n, len(ps))
			}
		}
	}
	if n := v1.NumChoices(3); n != 18 {
		t.Fatalf("v1 3 layers: %d choices, want 18", n)
	}
	if n := v1chain.NumChoices(3); n != 15 {
		t.Fatalf("v1 chain 3 layers: %d choices, want 15", n)
	}

	formats := []struct {
		sp      Space
		layers  int
		choices []int
		want    string
	}{
		{v1, 3, []int{1, 2, 0, 0, 3, 0, 1, 0, 0, 0, 1, 3, 3, 0, 0, 1, 0, 1}, "kh3 kw5 sh1 sw1 f64 | kh1 kw3 sh1 sw1 f24 in0 | kh7 kw7 sh1 sw1 f36 in1"},
		{v1, 3, []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, "kh1 kw1 sh1 sw1 f24 | kh1 kw1 sh1 sw1 f24 | kh1 kw1 sh1 sw1 f24 in0 in1"},
		{v1, 1, []int{3, 3, 0, 0, 3}, "kh7 kw7 sh1 sw1 f64"},
		{v1chain, 3, []int{1, 2, 0, 0, 3, 0, 1, 0, 0, 0, 3, 3, 0, 0, 1}, "kh3 kw5 sh1 sw1 f64 | kh1 kw3 sh1 sw1 f24 in0 | kh7 kw7 sh1 sw1 f36 in1"},
		{reord, 2, []int{1, 0, 2, 0, 0, 1, 1}, "f16 g1 kh5 ; f8 g1 kh3 x0"},
		{reord, 2, []int{0, 0, 0, 1, 0, 1, 0}, "f8 g1 kh1 ; f16 g1 kh3"},
	}
	for _, f := range formats {
		if err := f.sp.Check(f.layers, f.choices); err != nil {
			t.Fatalf("%v: %v", f.choices, err)
		}
		if got := f.sp.Format(f.layers, f.choices); got != f.want {
			t.Errorf("Format(%d, %v) = %q, want %q", f.layers, f.choices, got, f.want)
		}
	}

	good := []int{1, 2, 0, 0, 3, 0, 1, 0, 0, 0, 1} // v1, 2 layers
	set := func(t, v int) []int { c := append([]int(nil), good...); c[t] = v; return c }
	checks := []struct {
		sp      Space
		choices []int
		msg     string
	}{
		{v1, good[:10], "controller: 10 choices for 2 layers, want 11"},
		{v1, append(good, 0), "controller: 12 choices for 2 layers, want 11"},
		{v1, set(2, 1), "controller: choice 2 (layer 0, sh): option 1 out of range [0, 1)"},
		{v1, set(8, 1), "controller: choice 8 (layer 1, sw): option 1 out of range [0, 1)"},
		{v1, set(0, -1), "controller: choice 0 (layer 0, kh): option -1 out of range [0, 4)"},
		{v1, set(9, 4), "controller: choice 9 (layer 1, f): option 4 out of range [0, 4)"},
		{v1, set(10, 2), "controller: choice 10 (layer 1, anchor 0): 2 is not 0 or 1"},
		{v1, set(10, -1), "controller: choice 10 (layer 1, anchor 0): -1 is not 0 or 1"},
		{reord, []int{2, 0, 0, 0, 0, 0, 0}, "controller: choice 0 (layer 0, f): option 2 out of range [0, 2)"},
		{reord, []int{0, 1, 0, 0, 0, 0, 0}, "controller: choice 1 (layer 0, g): option 1 out of range [0, 1)"},
	}
	for _, c := range checks {
		if err := c.sp.Check(2, c.choices); err == nil || err.Error() != c.msg {
			t.Errorf("Check(2, %v) = %v, want %q", c.choices, err, c.msg)
		}
	}
}

// checkArch parses an architecture string by the language's rules and
// checks it against the choices that produced it, walking the program:
// per layer, the token of each Choice step in step order, then the input
// tokens of the Anchors or Chain step.
func checkArch(t *testing.T, sp Space, s Sample) {
	t.Helper()
	if err := sp.Check(s.Layers, s.Choices); err != nil {
		t.Fatalf("%q: %v", s.Arch, err)
	}
	in := sp.Layer[len(sp.Layer)-1]
	if in.Kind != Anchors && in.Kind != Chain {
		t.Fatalf("program %v has no input step", sp.Layer)
	}
	layers := strings.Split(s.Arch, sp.LayerSep)
	if len(layers) != s.Layers {
		t.Fatalf("%q: %d layers, want %d", s.Arch, len(layers), s.Layers)
	}
	c := 0
	for i, l := range layers {
		toks := strings.Split(l, " ")
		k := 0
		for _, st := range sp.Layer {
			if st.Kind != Choice {
				continue
			}
			dec := sp.Decisions[st.Decision]
			if k >= len(toks) || toks[k] != dec.Tokens[s.Choices[c]] {
				t.Fatalf("%q layer %d: token %d is not %q", s.Arch, i, k, dec.Tokens[s.Choices[c]])
			}
			k++
			c++
		}
		var ins []int
		for _, tok := range toks[k:] {
			j, err := strconv.Atoi(strings.TrimPrefix(tok, in.Prefix))
			if err != nil || !strings.HasPrefix(tok, in.Prefix) || j >= i || len(ins) > 0 && j <= ins[len(ins)-1] {
				t.Fatalf("%q layer %d: bad input token %q", s.Arch, i, tok)
			}
			ins = append(ins, j)
		}
		if in.Kind == Chain {
			if i > 0 && (len(ins) != 1 || ins[0] != i-1) || i == 0 && len(ins) != 0 {
				t.Fatalf("%q layer %d: chain wants %s%d, got %v", s.Arch, i, in.Prefix, i-1, ins)
			}
			continue
		}
		k = 0
		for j := 0; j < i; j++ {
			if want := s.Choices[c] == 1; want != (k < len(ins) && ins[k] == j) {
				t.Fatalf("%q layer %d: anchor %d choice %d disagrees with inputs %v", s.Arch, i, j, s.Choices[c], ins)
			} else if want {
				k++
			}
			c++
		}
		if k != len(ins) {
			t.Fatalf("%q layer %d: inputs %v, anchors chose %d", s.Arch, i, ins, k)
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
		opts := sp.Positions(6)[last].Options
		if want := len(sp.Decisions[len(sp.Decisions)-1].Tokens); anchors && opts != 2 || !anchors && opts != want {
			t.Fatalf("last position has %d options", opts)
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
	if _, set := c.Baseline(); set {
		t.Fatal("a rejected first batch set the baseline")
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

// TestRejectedFirstBatch: a first batch that passes the checks but whose
// update is refused (an infinite gradient) leaves the controller as it was,
// baseline unset; the next accepted batch's mean is the baseline.
func TestRejectedFirstBatch(t *testing.T) {
	c := mustNew(t, Config{Seed: 1, Hidden: 4, BaselineDecay: 0.5}, tinySpace(true))
	s, _ := c.Sample(3)
	s2, _ := c.Sample(3)
	for s2.Arch == s.Arch {
		s2, _ = c.Sample(3)
	}
	before := stateHash(c)
	_, err := c.Update([]Episode{{3, s.Choices, 1e308}, {3, s2.Choices, -1e308}})
	if err == nil || !strings.HasPrefix(err.Error(), "controller: update: gradient norm is ") {
		t.Fatalf("rewards ±1e308: got %v, want a refused update", err)
	}
	if b, set := c.Baseline(); set || b != 0 || c.Steps() != 0 || stateHash(c) != before {
		t.Fatalf("refused first batch: baseline %v (set %v), steps %d, state changed %v", b, set, c.Steps(), stateHash(c) != before)
	}
	st, err := c.Update([]Episode{{3, s.Choices, 1}, {3, s.Choices, 3}})
	if err != nil || st.Baseline != 2 || st.Step != 1 {
		t.Fatalf("first accepted batch: %+v, %v; want baseline 2", st, err)
	}
	if b, set := c.Baseline(); b != 2 || !set {
		t.Fatalf("baseline %v (set %v), want 2", b, set)
	}
}

// TestFixedDecisions: a decision of one option is written in every layer
// and holds a 0 in every decision vector, but the policy never samples it:
// a controller of the v1 program with fixed strides (sh1, sw1) samples the
// same choices with the same log-probabilities, and learns the same
// weights from the same episodes, as one of the program without them.
func TestFixedDecisions(t *testing.T) {
	fixed, free := v1Space(true), v1Space(false)
	cfg := Config{Seed: 3, Hidden: 6, Embedding: 5, InitRange: 0.5, EntropyWeight: 0.05, LR: 0.05}
	a, b := mustNew(t, cfg, fixed), mustNew(t, cfg, free)
	if a.fp != b.fp || len(a.w.all) != len(b.w.all) || stateHash(a) != stateHash(b) {
		t.Fatal("the fixed decisions changed the policy's layout or weights")
	}
	if got := a.Space(); !reflect.DeepEqual(got, fixed) {
		t.Fatalf("Space() = %+v, want the program as given %+v", got, fixed)
	}
	// compare draws a sample of each and checks that they agree.
	compare := func(sa, sb Sample) {
		t.Helper()
		checkArch(t, fixed, sa)
		checkArch(t, free, sb)
		ps := fixed.Positions(sa.Layers)
		if len(sa.Choices) != len(ps) || sa.Layers != sb.Layers {
			t.Fatalf("%d layers: %d choices, want %d", sa.Layers, len(sa.Choices), len(ps))
		}
		for k, p := range ps {
			if p.Options == 1 && sa.Choices[k] != 0 {
				t.Fatalf("choice %d (a fixed decision) is %d", k, sa.Choices[k])
			}
		}
		if got := dropFixed(fixed, sa.Layers, sa.Choices); !reflect.DeepEqual(got, sb.Choices) {
			t.Fatalf("choices without the fixed decisions %v, the program without them drew %v", got, sb.Choices)
		}
		if sa.LogProb != sb.LogProb {
			t.Fatalf("log p %v, without the fixed decisions %v", sa.LogProb, sb.LogProb)
		}
		la, lb := strings.Split(sa.Arch, " | "), strings.Split(sb.Arch, " | ")
		for i := range la {
			if !strings.Contains(la[i], " sh1 sw1 ") {
				t.Fatalf("%q layer %d lacks the fixed tokens", sa.Arch, i)
			}
			if strings.Replace(la[i], " sh1 sw1 ", " ", 1) != lb[i] {
				t.Fatalf("layer %d: %q, without the fixed decisions %q", i, la[i], lb[i])
			}
		}
	}
	reward := patternReward(free)
	for round := range 4 {
		var ea, eb []Episode
		for _, n := range []int{1, 3, 4, 3} {
			sa, err := a.Sample(n)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.Sample(n)
			if err != nil {
				t.Fatal(err)
			}
			compare(sa, sb)
			if lp, err := a.LogProb(n, sa.Choices); err != nil || lp != sa.LogProb {
				t.Fatalf("LogProb of the sample: %v (%v), want %v", lp, err, sa.LogProb)
			}
			if arch, err := a.Arch(n, sa.Choices); err != nil || arch != sa.Arch {
				t.Fatalf("Arch of the sample: %q (%v), want %q", arch, err, sa.Arch)
			}
			r := reward(sb)
			ea = append(ea, Episode{n, sa.Choices, r})
			eb = append(eb, Episode{n, sb.Choices, r})
		}
		// the same vector with a fixed entry set, or without the fixed
		// entries, is not a decision vector of the program
		bad := append([]int(nil), ea[1].Choices...)
		bad[2] = 1
		if _, err := a.LogProb(3, bad); err == nil || !strings.Contains(err.Error(), "sh") {
			t.Fatalf("LogProb with sh = 1: %v", err)
		}
		if _, err := a.LogProb(3, eb[1].Choices); err == nil {
			t.Fatal("LogProb accepted a vector without the fixed entries")
		}
		if _, err := a.Update([]Episode{ea[0], {3, bad, 1}}); err == nil {
			t.Fatal("Update accepted a fixed entry of 1")
		}
		sta, err := a.Update(ea)
		if err != nil {
			t.Fatal(err)
		}
		stb, err := b.Update(eb)
		if err != nil {
			t.Fatal(err)
		}
		if sta != stb || stateHash(a) != stateHash(b) {
			t.Fatalf("round %d: stats %+v vs %+v; same weights %v", round, sta, stb, stateHash(a) == stateHash(b))
		}
	}
	ga, _ := a.Greedy(5)
	gb, _ := b.Greedy(5)
	compare(ga, gb)
	// A checkpoint of the program with fixed decisions resumes it.
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := Load(&buf, cfg, fixed)
	if err != nil {
		t.Fatal(err)
	}
	sr, _ := r.Sample(4)
	sa, _ := a.Sample(4)
	if sr.Arch != sa.Arch || sr.LogProb != sa.LogProb || !reflect.DeepEqual(sr.Choices, sa.Choices) {
		t.Fatalf("resumed %+v, want %+v", sr, sa)
	}
}

// TestSpaceCopy: the controller keeps its own copy of the program; neither
// the caller's program nor the copy Space returns can change it.
func TestSpaceCopy(t *testing.T) {
	sp := v1Space(true)
	c := mustNew(t, Config{Seed: 1, Hidden: 4}, sp)
	want := v1Space(true)
	sp.Decisions[2].Tokens[0] = "sh9"
	sp.Layer[4].Decision = 0
	sp.Layer[5].Prefix = "zz"
	got := c.Space()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after changing the caller's program: %+v, want %+v", got, want)
	}
	got.Decisions[0].Tokens[1] = "kh9"
	got.Layer[0].Kind = Anchors
	if again := c.Space(); !reflect.DeepEqual(again, want) {
		t.Fatalf("after changing Space's copy: %+v, want %+v", again, want)
	}
	s, err := c.Sample(2)
	if err != nil {
		t.Fatal(err)
	}
	checkArch(t, want, s)
}
