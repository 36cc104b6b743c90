package text

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nas-project/nas/internal/dataroot"
)

// The real corpora `make data` fetches (make test runs it first), pinned by
// the checksums of scripts/data.sha256, so their numbers are exact here:
// missing data fails the test, saying so; only -short skips them. The
// numbers are the ones doc.go records.

func realRoot(t *testing.T, sub, probe string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("reads a fetched corpus (about a second)")
	}
	root := dataroot.Default()
	if _, err := os.Stat(filepath.Join(root, sub, probe)); err != nil {
		t.Fatalf("the %s corpus is missing (%v): run make data", sub, err)
	}
	return root
}

func TestBrownReal(t *testing.T) {
	root := realRoot(t, "brown", "cr09")
	start := time.Now()
	c, err := Load("brown", root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	files, err := BrownFiles(filepath.Join(root, "brown"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Load("brown", root, Options{VocabSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v; uncapped vocabulary %d; UNK rate train %.2f%%, valid %.2f%%, test %.2f%%; loaded in %v",
		c, len(full.Vocab), 100*c.UnkRate(c.Train), 100*c.UnkRate(c.Valid), 100*c.UnkRate(c.Test), elapsed)
	if len(files) != 500 {
		t.Errorf("%d files, want 500", len(files))
	}
	if tr, va, te := c.Tokens(); len(c.Vocab) != 10000 || tr != 857217 || va != 106721 || te != 106848 {
		t.Errorf("%v: want vocabulary 10000, tokens 857217/106721/106848", c)
	}
	if len(full.Vocab) != 42870 {
		t.Errorf("uncapped vocabulary %d, want 42870", len(full.Vocab))
	}
	if r := c.UnkRate(c.Valid); r < 0.09 || r > 0.105 {
		t.Errorf("OOV rate on valid %.4f, want about 0.097", r)
	}
	if got := c.Decode(c.Train[:12]); got != "the fulton county grand jury said friday an investigation of <unk> recent" { // atlanta's is rare
		t.Errorf("train starts %q", got)
	}
	if _, err := NewStream(c.Train, 20, 35); err != nil {
		t.Error(err)
	}
}

func TestFortunesReal(t *testing.T) {
	root := realRoot(t, "fortunes", "zippy")
	start := time.Now()
	c, err := Load("fortunes", root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%v; UNK rate valid %.4f%%; loaded in %v", c, 100*c.UnkRate(c.Valid), elapsed)
	if tr, va, te := c.Tokens(); len(c.Vocab) != 104 || tr != 1976020 || va != 252803 || te != 249407 {
		t.Errorf("%v: want vocabulary 104, tokens 1976020/252803/249407", c)
	}
	if want := []string{"\n", "<unk>", " ", "e", "t", "o", "a"}; !slices.Equal(c.Vocab[:len(want)], want) {
		t.Errorf("vocabulary starts %q, want %q", c.Vocab[:len(want)], want)
	}
	again, err := Load("fortunes", root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Vocab, again.Vocab) || !slices.Equal(c.Test, again.Test) {
		t.Error("two loads differ")
	}
}
