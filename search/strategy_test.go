package search

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/nas-project/nas/onnxgen"
)

// TestDepthSchedule: the default LayerEvery shares the trial budget
// equally among the depths, and depth() follows the documented formula.
func TestDepthSchedule(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		every int
		// depth of the iteration starting at each s
		depths map[int]int
	}{
		{"paper-like v1: 6..14 is 5 stages", Options{Trials: 1000}, 200, map[int]int{0: 6, 192: 6, 200: 8, 800: 14, 999: 14}},
		{"no trial budget: the paper's 1600", Options{Duration: time.Hour}, 1600, map[int]int{1599: 6, 1600: 8, 100000: 15}},
		{"rounded up to a multiple of M", Options{Trials: 50, M: 8, Schedule: Schedule{StartLayers: 10}}, 24, map[int]int{0: 10, 24: 12, 48: 14}},
		{"set by hand, v2", Options{Trials: 10, Space: "v2", Schedule: Schedule{LayerEvery: 4, LayerStep: 5}}, 4, map[int]int{0: 6, 4: 11, 8: 16, 12: 20}},
		{"start at the cap", Options{Trials: 10, Space: "v1", Schedule: Schedule{StartLayers: 15}}, 16, map[int]int{0: 15, 9: 15}},
	}
	for _, c := range cases {
		d := c.o.WithDefaults()
		if err := c.o.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		k, err := newKind(d)
		if err != nil {
			t.Fatal(err)
		}
		if d.LayerEvery != c.every {
			t.Errorf("%s: LayerEvery %d, want %d", c.name, d.LayerEvery, c.every)
		}
		for s, want := range c.depths {
			if got := k.depth(s); got != want {
				t.Errorf("%s: depth(%d) = %d, want %d", c.name, s, got, want)
			}
		}
	}
}

// TestDepthGrows: the rl strategy runs iterations of growing depth.
func TestDepthGrows(t *testing.T) {
	o := testOptions(StrategyRL, 24)
	o.StartLayers, o.LayerEvery = 1, 8
	dir := t.TempDir()
	runSearch(t, dir, o, newFake(), nil)
	for _, r := range readTrials(t, dir) {
		a, err := onnxgen.Parse(r.Arch)
		if want := 1 + 2*(r.Index/8); err != nil || len(a.Layers) != want || r.Layers != want {
			t.Errorf("trial %d: %d layers (%s), want %d", r.Index, len(a.Layers), r.Arch, want)
		}
	}
}

// TestMutate: a random decision vector writes an architecture of the space
// that encodes back to the same vector; a mutation changes exactly one
// decision to another option of the space.
func TestMutate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sp := range []onnxgen.Space{onnxgen.SpaceV1, onnxgen.SpaceV2, onnxgen.SpaceV3, onnxgen.SpaceV3Wide, {KernelHeights: []int{3}, KernelWidths: []int{3, 5}, Filters: []int{8}, MaxLayers: 4}} {
		k := &cnn{sp: sp, prog: ControllerSpace(sp)}
		arch := func(layers int, ch []int) onnxgen.Arch {
			t.Helper()
			p := written(k, layers, ch)
			if p.err != nil {
				t.Fatalf("%q: %v", p.arch, p.err)
			}
			a, err := sp.ParseArch(p.arch)
			if err != nil {
				t.Fatal(err)
			}
			if l, back, err := k.encode(p.arch); err != nil || l != layers || !reflect.DeepEqual(back, ch) {
				t.Fatalf("%q encodes to %d layers %v (%v), want %d %v", p.arch, l, back, err, layers, ch)
			}
			return a
		}
		for range 300 {
			layers := 1 + r.IntN(sp.MaxLayers)
			ch := randomChoices(k.prog, layers, r)
			a := arch(layers, ch)
			before := append([]int(nil), ch...)
			mc := mutate(k.prog, layers, ch, r)
			if !reflect.DeepEqual(ch, before) {
				t.Fatal("mutate changed its input")
			}
			b := arch(layers, mc)
			diff := 0
			for i := range a.Layers {
				x, y := a.Layers[i], b.Layers[i]
				for _, d := range [][2]int{{x.KH, y.KH}, {x.KW, y.KW}, {x.SH, y.SH}, {x.SW, y.SW}, {x.Filters, y.Filters}, {x.Pool, y.Pool}} {
					if d[0] != d[1] {
						diff++
					}
				}
				in := map[int]int{}
				for _, j := range x.Inputs {
					in[j]++
				}
				for _, j := range y.Inputs {
					in[j]--
				}
				for _, v := range in {
					if v != 0 {
						diff++
					}
				}
			}
			if diff != 1 {
				t.Fatalf("%s -> %s: %d decisions changed, want 1", onnxgen.Format(a), onnxgen.Format(b), diff)
			}
		}
	}
}

// TestDuration: the time budget stops the search between iterations.
func TestDuration(t *testing.T) {
	o := testOptions(StrategyRandom, 0)
	o.M = 2
	o.Duration = 60 * time.Millisecond
	fake := newFake()
	ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		time.Sleep(10 * time.Millisecond)
		return fake.Evaluate(ctx, tr)
	})
	sum := runSearch(t, t.TempDir(), o, ev, nil)
	if sum.Stop != "duration" || sum.Trials < 4 || sum.Trials > 14 || sum.Trials%2 != 0 {
		t.Errorf("summary %+v: want about 6 trials in whole iterations, stopped by the duration", sum)
	}
}

// TestResumeLargerBudget: an rl run whose budget ends inside an iteration
// makes no update for it; resumed with a larger budget it completes the
// iteration and ends exactly like a run given the larger budget at once.
func TestResumeLargerBudget(t *testing.T) {
	o := testOptions(StrategyRL, 10) // iterations of 4: 4, 4, then 2
	dir := t.TempDir()
	runSearch(t, dir, o, newFake(), nil)
	if n := len(readTrials(t, dir)); n != 10 {
		t.Fatalf("%d trials, want 10", n)
	}
	sum, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 22, Parallel: 3}, Evaluator: newFake()})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Options.Trials != 22 || sum.Ran != 12 {
		t.Errorf("resumed summary: %+v", sum)
	}
	o.Trials = 22
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	compareRuns(t, ref, dir)
	so, _, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := o.WithDefaults(); so.Trials != 22 || !reflect.DeepEqual(so.Child, want.Child) {
		t.Errorf("stored options after resume: %+v (want the new budget, the rest unchanged)", so)
	}
}
