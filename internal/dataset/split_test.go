package dataset

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// tagged is a set of n 2x1x2 images whose pixels all hold the image's index,
// so every image of a derived set says where it came from.
func tagged(n int) *Set {
	s := &Set{Name: "t/train", C: 2, H: 1, W: 2, Classes: 3, X: make([]float32, n*4), Y: make([]int64, n)}
	for i := range n {
		for j := range 4 {
			s.X[i*4+j] = float32(i)
		}
		s.Y[i] = int64(i % 3)
	}
	return s
}

// origins returns the source index of every image, checking the image is
// intact (all pixels equal, label matches).
func origins(t *testing.T, s *Set) []int {
	t.Helper()
	out := make([]int, s.Len())
	for i := range s.Len() {
		id := s.X[i*4]
		for j := range 4 {
			if s.X[i*4+j] != id {
				t.Fatalf("%s: image %d is mixed: %v", s.Name, i, s.X[i*4:i*4+4])
			}
		}
		if s.Y[i] != int64(int(id)%3) {
			t.Fatalf("%s: image %d (from %v) has label %d", s.Name, i, id, s.Y[i])
		}
		out[i] = int(id)
	}
	return out
}

func TestSplit(t *testing.T) {
	s := tagged(100)
	train, val, err := Split(s, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if train.Name != "t/train" || val.Name != "t/val" || train.Len() != 80 || val.Len() != 20 {
		t.Fatalf("got %s (%d), %s (%d); want t/train (80), t/val (20)", train.Name, train.Len(), val.Name, val.Len())
	}
	tr, va := origins(t, train), origins(t, val)
	if !slices.IsSorted(tr) || !slices.IsSorted(va) {
		t.Fatal("splits do not keep the original order")
	}
	all := slices.Concat(tr, va)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train ∪ val is not a partition of the input: %v", all)
		}
	}
	// Deterministic for a seed, different across seeds.
	_, val2, _ := Split(s, 20, 7)
	_, val3, _ := Split(s, 20, 8)
	if !slices.Equal(va, origins(t, val2)) {
		t.Fatal("same seed gave a different split")
	}
	if slices.Equal(va, origins(t, val3)) {
		t.Fatal("seeds 7 and 8 gave the same split")
	}
	// The pinned draw: PCG(7, pcgStream) must not change across Go releases
	// or refactors, or recorded runs stop being reproducible.
	if want := []int{2, 6, 7, 8, 20, 21, 22, 24, 32, 36, 39, 49, 50, 59, 60, 69, 70, 77, 78, 80}; !slices.Equal(va, want) {
		t.Fatalf("seed 7 picked %v, pinned %v", va, want)
	}
	if got := origins(t, s); !slices.Equal(got, seqInts(100)) {
		t.Fatal("Split modified its input")
	}
}

func seqInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestSplitErrors(t *testing.T) {
	bad := tagged(10)
	bad.Y[3] = 5
	cases := []struct {
		name, reason string
		s            *Set
		val          int
		want         string
	}{
		{"zero", "an empty validation set", tagged(10), 0, "validation size 0 is outside [1, 9]"},
		{"all", "an empty training set", tagged(10), 10, "validation size 10 is outside [1, 9]"},
		{"negative", "a negative size", tagged(10), -1, "outside"},
		{"nil", "no set", nil, 1, "nil set"},
		{"invalid", "a label outside the classes", bad, 2, "label 5 of image 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := Split(c.s, c.val, 1); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s: got %v, want %q", c.reason, err, c.want)
			}
		})
	}
}

func TestSubset(t *testing.T) {
	s := tagged(50)
	sub, err := s.Subset(10, 3)
	if err != nil {
		t.Fatal(err)
	}
	got := origins(t, sub)
	if sub.Len() != 10 || sub.Name != "t/train/subset" || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != 10 {
		t.Fatalf("subset %s: %v", sub.Name, got)
	}
	again, _ := s.Subset(10, 3)
	if !slices.Equal(got, origins(t, again)) {
		t.Fatal("same seed gave a different subset")
	}
	full, err := s.Subset(50, 9)
	if err != nil || !slices.Equal(origins(t, full), seqInts(50)) {
		t.Fatalf("full subset: %v", err)
	}
	full.X[0] = 99
	if s.X[0] != 0 {
		t.Fatal("Subset shares memory with its input")
	}
	for _, n := range []int{0, 51, -3} {
		if _, err := s.Subset(n, 1); err == nil || !strings.Contains(err.Error(), "outside [1, 50]") {
			t.Fatalf("Subset(%d): got %v", n, err)
		}
	}
}

func TestStatsNormalize(t *testing.T) {
	// Two images, two channels of 1x2: channel 0 holds 1,3,5,7 (mean 4,
	// std sqrt(5)), channel 1 is constant 9 (std recorded as 1).
	s := &Set{Name: "n", C: 2, H: 1, W: 2, Classes: 2,
		X: []float32{1, 3, 9, 9, 5, 7, 9, 9}, Y: []int64{0, 1}}
	n := Stats(s)
	if math.Abs(float64(n.Mean[0])-4) > 1e-6 || math.Abs(float64(n.Std[0])-math.Sqrt(5)) > 1e-6 || n.Mean[1] != 9 || n.Std[1] != 1 {
		t.Fatalf("Stats = %+v, want mean [4 9] std [%v 1]", n, math.Sqrt(5))
	}
	if err := s.Normalize(n); err != nil {
		t.Fatal(err)
	}
	want := []float32{-3, -1, 0, 0, 1, 3, 0, 0}
	for i := range want {
		if math.Abs(float64(s.X[i]-want[i]/float32(math.Sqrt(5))*boolf(i%4 < 2))) > 1e-6 {
			t.Fatalf("normalised X = %v", s.X)
		}
	}
	// Real data: after normalising with its own stats, mean 0 and std 1.
	train, _, err := Load("digits", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := train.Normalize(Stats(train)); err != nil {
		t.Fatal(err)
	}
	if m := Stats(train); math.Abs(float64(m.Mean[0])) > 1e-5 || math.Abs(float64(m.Std[0])-1) > 1e-5 {
		t.Fatalf("after Normalize: %+v, want mean 0 std 1", m)
	}
}

func boolf(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

func TestNormalizeErrors(t *testing.T) {
	cases := []struct {
		name, reason string
		n            Norm
		want         string
	}{
		{"channels", "a one-channel norm for a two-channel set", Norm{Mean: []float32{0}, Std: []float32{1}}, "1 means and 1 stds, want 2 channels"},
		{"zero std", "division by zero", Norm{Mean: []float32{0, 0}, Std: []float32{1, 0}}, "channel 1"},
		{"nan", "a NaN mean", Norm{Mean: []float32{float32(math.NaN()), 0}, Std: []float32{1, 1}}, "channel 0"},
		{"empty", "the zero Norm", Norm{}, "0 means"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tagged(3)
			before := slices.Clone(s.X)
			if err := s.Normalize(c.n); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s: got %v, want %q", c.reason, err, c.want)
			}
			if !slices.Equal(before, s.X) {
				t.Fatalf("%s: failed Normalize changed X", c.reason)
			}
		})
	}
	if n := Stats(&Set{C: 3}); len(n.Std) != 3 || n.Std[2] != 1 || n.Mean[0] != 0 {
		t.Fatalf("Stats of an empty set = %+v, want zero means and unit stds", n)
	}
}
