package controller

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// stateHash is a SHA-256 of every bit of the weights and Adam moments.
func stateHash(c *Controller) string {
	h := sha256.New()
	var b [8]byte
	for pi, p := range c.w.all {
		for _, xs := range [][]float64{p.w, c.adamM[pi], c.adamV[pi]} {
			for _, x := range xs {
				binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
				h.Write(b[:])
			}
		}
	}
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(c.baseline))
	h.Write(b[:])
	return fmt.Sprintf("%x", h.Sum(nil))
}

// patternReward is the toy problem: the fraction of choices equal to a
// hidden pattern (choice t of layer i should be (t+i) mod its number of
// options; anchor j of layer i should be (i+j) mod 2).
func patternReward(sp Space) func(Sample) float64 {
	return func(s Sample) float64 {
		hit := 0
		for t, p := range sp.Positions(s.Layers) {
			want := (t + p.Layer) % p.Options
			if p.Earlier >= 0 {
				want = (p.Layer + p.Earlier) % 2
			}
			if s.Choices[t] == want {
				hit++
			}
		}
		return float64(hit) / float64(len(s.Choices))
	}
}

// run does k updates of m episodes of the given depth.
func runUpdates(t testing.TB, c *Controller, k, m, layers int) {
	t.Helper()
	depths := make([]int, m)
	for i := range depths {
		depths[i] = layers
	}
	for range k {
		eps := sampleEpisodes(t, c, depths, patternReward(c.Space()))
		if _, err := c.Update(eps); err != nil {
			t.Fatal(err)
		}
	}
}

var detCfg = Config{Seed: 42, Hidden: 10, Embedding: 6, EntropyWeight: 0.01, ClipNorm: 5, LR: 0.01}

func detHash(t testing.TB) string {
	c := mustNew(t, detCfg, v2Space(true))
	runUpdates(t, c, 6, 4, 4)
	return stateHash(c)
}

// TestDeterminism: the same seed gives bitwise identical weights after K
// updates, with GOMAXPROCS 1 or 2, in this process or in another one.
func TestDeterminism(t *testing.T) {
	if os.Getenv("NAS_CONTROLLER_HELPER") == "1" {
		fmt.Printf("hash=%s\n", detHash(t))
		return
	}
	old := runtime.GOMAXPROCS(1)
	h1 := detHash(t)
	runtime.GOMAXPROCS(2)
	h2 := detHash(t)
	runtime.GOMAXPROCS(old)
	if h1 != h2 {
		t.Fatalf("GOMAXPROCS 1: %s, GOMAXPROCS 2: %s", h1, h2)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeterminism$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NAS_CONTROLLER_HELPER=1", "GOMAXPROCS=2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("subprocess: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "hash="+h1) {
		t.Fatalf("subprocess state differs: want hash=%s, got\n%s", h1, out)
	}
	// and a different seed gives different weights
	c := mustNew(t, Config{Seed: 43, Hidden: 10, Embedding: 6, EntropyWeight: 0.01, ClipNorm: 5, LR: 0.01}, v2Space(true))
	runUpdates(t, c, 6, 4, 4)
	if stateHash(c) == h1 {
		t.Fatal("seeds 42 and 43 gave the same state")
	}
}

// TestResume: saving, loading and continuing gives exactly the samples and
// weights of never having stopped.
func TestResume(t *testing.T) {
	sp := v2Space(true)
	a := mustNew(t, detCfg, sp)
	runUpdates(t, a, 3, 3, 3)
	path := filepath.Join(t.TempDir(), "ctrl.ckpt")
	if err := a.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := LoadFile(path, detCfg, sp)
	if err != nil {
		t.Fatal(err)
	}
	if stateHash(a) != stateHash(b) || a.step != b.step {
		t.Fatal("loaded state differs from saved state")
	}
	runUpdates(t, a, 3, 3, 3)
	runUpdates(t, b, 3, 3, 3)
	if ha, hb := stateHash(a), stateHash(b); ha != hb {
		t.Fatalf("after resuming: %s vs %s", ha, hb)
	}
	for i := range 5 {
		sa, _ := a.Sample(5)
		sb, _ := b.Sample(5)
		if sa.Arch != sb.Arch || sa.LogProb != sb.LogProb {
			t.Fatalf("sample %d: %q (%v) vs %q (%v)", i, sa.Arch, sa.LogProb, sb.Arch, sb.LogProb)
		}
	}
	if a.Steps() != 6 || b.Steps() != 6 {
		t.Fatalf("steps %d, %d; want 6", a.Steps(), b.Steps())
	}
	// no temporary files left behind
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(ents))
	}
}

func TestLoadErrors(t *testing.T) {
	sp := tinySpace(true)
	cfg := Config{Seed: 1, Hidden: 4}
	c := mustNew(t, cfg, sp)
	var buf bytes.Buffer
	if err := c.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	otherSpace := tinySpace(true)
	otherSpace.Decisions[1].Tokens = append(otherSpace.Decisions[1].Tokens, "f32")
	cases := []struct {
		name string
		data []byte
		cfg  Config
		sp   Space
		want error
		msg  string
	}{
		{"empty", nil, cfg, sp, ErrCorrupt, "header"},
		{"truncated header", good[:10], cfg, sp, ErrCorrupt, "header"},
		{"truncated body", good[:len(good)/2], cfg, sp, ErrCorrupt, "truncated"},
		{"truncated checksum", good[:len(good)-1], cfg, sp, ErrCorrupt, "truncated"},
		{"bad magic", flip(0), cfg, sp, ErrCorrupt, "magic"},
		{"future version", flip(8), cfg, sp, ErrCorrupt, "version"},
		{"flipped payload bit", flip(len(good) / 2), cfg, sp, ErrCorrupt, "checksum"},
		{"flipped checksum bit", flip(len(good) - 3), cfg, sp, ErrCorrupt, "checksum"},
		{"other hidden size", good, Config{Seed: 1, Hidden: 5}, sp, ErrMismatch, "config"},
		{"other seed", good, Config{Seed: 2, Hidden: 4}, sp, ErrMismatch, "config"},
		{"other space", good, cfg, otherSpace, ErrMismatch, "search space"},
		{"anchors off", good, cfg, tinySpace(false), ErrMismatch, "search space"},
		{"other anchor prefix", good, cfg, func() Space { s := tinySpace(true); s.Layer[2].Prefix = "from"; return s }(), ErrMismatch, "search space"},
		{"other layer separator", good, cfg, func() Space { s := tinySpace(true); s.LayerSep = " ; "; return s }(), ErrMismatch, "search space"},
		{"other step order", good, cfg, func() Space { s := tinySpace(true); s.Layer[0], s.Layer[1] = s.Layer[1], s.Layer[0]; return s }(), ErrMismatch, "search space"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(tc.data), tc.cfg, tc.sp)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "controller: load: ") {
				t.Fatalf("got %v, want an error wrapping %q mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
	if _, err := Load(bytes.NewReader(good), cfg, sp); err != nil {
		t.Fatalf("intact checkpoint: %v", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing"), cfg, sp); err == nil {
		t.Fatal("missing file: no error")
	}
}

// TestLoadV1Checkpoint: a checkpoint written before the space became a
// program (commit c7b1a38, Space{Decisions, Anchors, AnchorPrefix,
// LayerSep}) loads into the program of the same space, and the loaded
// controller samples what the old one sampled after saving.
//
// testdata/v1-tiny.ckpt was written by a throw-away program built against
// a copy of c7b1a38's controller package (not kept in the repository). It
// made the old tinySpace(true) — Space{Decisions: {kh: kh1 kh3 kh5},
// {f: f8 f16}, Anchors: true, AnchorPrefix: "in", LayerSep: " | "} — and
// New(Config{Seed: 1, Hidden: 4}, space), ran one Update on v1Episodes,
// saved with SaveFile, then printed Sample(3), Sample(1), Sample(4),
// Sample(3) and Greedy(4): the literals of v1Samples and v1Greedy.
func TestLoadV1Checkpoint(t *testing.T) {
	cfg := Config{Seed: 1, Hidden: 4}
	sp := tinySpace(true)
	c, err := LoadFile(filepath.Join("testdata", "v1-tiny.ckpt"), cfg, sp)
	if err != nil {
		t.Fatal(err)
	}
	if b, set := c.Baseline(); c.Steps() != 1 || b != 0.5 || !set {
		t.Fatalf("steps %d, baseline %v (set %v); want 1, 0.5", c.Steps(), b, set)
	}
	// The same update by this version gives the same state (bitwise on
	// amd64; compare with a tolerance for platforms that fuse multiply-adds).
	fresh := mustNew(t, cfg, sp)
	if _, err := fresh.Update(v1Episodes); err != nil {
		t.Fatal(err)
	}
	if !closeState(c, fresh, 1e-12) || c.baseline != fresh.baseline {
		t.Fatal("the loaded state differs from this version's update on the same episodes")
	}
	check := func(what string, got, want Sample) {
		t.Helper()
		if got.Arch != want.Arch || !reflect.DeepEqual(got.Choices, want.Choices) || got.Layers != want.Layers ||
			math.Abs(got.LogProb-want.LogProb) > 1e-12*math.Abs(want.LogProb) {
			t.Fatalf("%s: %+v, the old controller drew %+v", what, got, want)
		}
	}
	for i, want := range v1Samples {
		got, err := c.Sample(want.Layers)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("sample %d", i), got, want)
	}
	g, err := c.Greedy(v1Greedy.Layers)
	if err != nil {
		t.Fatal(err)
	}
	check("greedy", g, v1Greedy)
}

// v1Episodes is the batch of the one update in testdata/v1-tiny.ckpt.
var v1Episodes = []Episode{
	{Layers: 3, Choices: []int{0, 1, 2, 0, 1, 1, 0, 1, 1}, Reward: 0.25},
	{Layers: 3, Choices: []int{2, 1, 1, 0, 0, 0, 1, 1, 0}, Reward: 0.75},
	{Layers: 2, Choices: []int{1, 0, 0, 1, 1}, Reward: 0.5},
}

// v1Samples and v1Greedy are what c7b1a38's controller drew right after
// saving testdata/v1-tiny.ckpt.
var (
	v1Samples = []Sample{
		{"kh5 f8 | kh3 f8 in0 | kh3 f16 in1", []int{2, 0, 1, 0, 1, 1, 1, 0, 1}, 3, -7.387490809197429},
		{"kh1 f16", []int{0, 1}, 1, -1.8036560872668637},
		{"kh5 f8 | kh5 f16 in0 | kh5 f16 in0 in1 | kh3 f16 in0 in2", []int{2, 0, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0, 1}, 4, -11.25889079870665},
		{"kh3 f16 | kh3 f8 in0 | kh1 f16", []int{1, 1, 1, 0, 1, 0, 1, 0, 0}, 3, -7.341132919654974},
	}
	v1Greedy = Sample{"kh3 f16 | kh3 f16 in0 | kh3 f16 in0 in1 | kh3 f16 in0 in1 in2", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 4, -10.93893386685061}
)

// closeState reports whether a and b have the same parameters and every
// weight and Adam moment within tol (absolute, relative above 1).
func closeState(a, b *Controller, tol float64) bool {
	if len(a.w.all) != len(b.w.all) || a.step != b.step {
		return false
	}
	for pi, p := range a.w.all {
		q := b.w.all[pi]
		if p.name != q.name || len(p.w) != len(q.w) {
			return false
		}
		for _, xs := range [][2][]float64{{p.w, q.w}, {a.adamM[pi], b.adamM[pi]}, {a.adamV[pi], b.adamV[pi]}} {
			for i := range xs[0] {
				if math.Abs(xs[0][i]-xs[1][i]) > tol*math.Max(1, math.Abs(xs[0][i])) {
					return false
				}
			}
		}
	}
	return true
}
