package dataset

import (
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fashionSmall = "testdata/fashion-mnist-small"

func sum(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

func checkSet(t *testing.T, s *Set, name string, n, h, w int) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Name != name || s.Len() != n || s.C != 1 || s.H != h || s.W != w || s.Classes != 10 {
		t.Fatalf("got %s: %d images %dx%dx%d, %d classes; want %s: %d of 1x%dx%d, 10 classes",
			s.Name, s.Len(), s.C, s.H, s.W, s.Classes, name, n, h, w)
	}
	lo, hi := s.X[0], s.X[0]
	for _, v := range s.X {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 255 {
		t.Fatalf("%s: pixel range [%v, %v], want [0, 255]", name, lo, hi)
	}
}

// The expected values below were computed with /usr/bin/python3 from the
// original files (Debian's dataset-fashion-mnist and sklearn's digits.csv.gz),
// independently of gendata and of this package.
func TestLoadFashionFixture(t *testing.T) {
	train, test, err := Load(fashionSmall, "")
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, train, "fashion-mnist-small/train", 1000, 28, 28)
	checkSet(t, test, "fashion-mnist-small/test", 200, 28, 28)
	for i, want := range []int64{9, 0, 0, 3, 0, 2, 7, 2, 5, 5} {
		if train.Y[i] != want {
			t.Fatalf("train label %d = %d, want %d", i, train.Y[i], want)
		}
	}
	for i, want := range []int64{9, 2, 1, 1, 6, 1, 4, 6, 5, 7} {
		if test.Y[i] != want {
			t.Fatalf("test label %d = %d, want %d", i, test.Y[i], want)
		}
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"train image 0", sum(train.X[:784]), 76247},
		{"train image 999", sum(train.X[999*784:]), 69838},
		{"test image 199", sum(test.X[199*784:]), 51291},
		{"all train images", sum(train.X), 56558003},
	} {
		if c.got != c.want {
			t.Errorf("pixel sum of %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadDigits(t *testing.T) {
	train, test, err := Load("digits", "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, train, "digits/train", 1497, 8, 8)
	checkSet(t, test, "digits/test", 300, 8, 8)
	row0 := []int{0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
		0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0}
	for i, v := range row0 {
		if want := float32((v*255 + 8) / 16); train.X[i] != want {
			t.Fatalf("train image 0 pixel %d = %v, want %v (= %d scaled from 0..16)", i, train.X[i], want, v)
		}
	}
	if got := sum(test.X[299*64:]); got != 6250 {
		t.Fatalf("pixel sum of the last test image = %v, want 6250", got)
	}
	count := func(y []int64) [10]int {
		var c [10]int
		for _, v := range y {
			c[v]++
		}
		return c
	}
	if got, want := count(train.Y), [10]int{151, 151, 149, 152, 148, 152, 150, 149, 146, 149}; got != want {
		t.Fatalf("train class counts %v, want %v", got, want)
	}
	if got, want := count(test.Y), [10]int{27, 31, 28, 31, 33, 30, 31, 30, 28, 31}; got != want {
		t.Fatalf("test class counts %v, want %v", got, want)
	}
}

// dataRoot lays out the fashion fixture under root/fashion-mnist as `make
// data` would, gzipped or decompressed.
func dataRoot(t *testing.T, raw bool) string {
	root := t.TempDir()
	dir := filepath.Join(root, "fashion-mnist")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(fashionSmall)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".gz") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(fashionSmall, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		name := e.Name()
		if raw {
			zr, err := gzip.NewReader(strings.NewReader(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			name = strings.TrimSuffix(name, ".gz")
		}
		writeFile(t, dir, name, data)
	}
	return root
}

func TestLoadByName(t *testing.T) {
	want, _, err := Load(fashionSmall, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []bool{false, true} {
		root := dataRoot(t, raw)
		train, test, err := Load("fashion-mnist", root)
		if err != nil {
			t.Fatalf("raw=%v: %v", raw, err)
		}
		checkSet(t, train, "fashion-mnist/train", 1000, 28, 28)
		checkSet(t, test, "fashion-mnist/test", 200, 28, 28)
		if sum(train.X) != sum(want.X) {
			t.Fatalf("raw=%v: pixel sum %v, want %v", raw, sum(train.X), sum(want.X))
		}
		// An empty root means dataroot.Default, which honours NAS_DATA.
		t.Setenv("NAS_DATA", root)
		if _, _, err := Load("fashion-mnist", ""); err != nil {
			t.Fatalf("raw=%v, root from NAS_DATA: %v", raw, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	root := dataRoot(t, false)
	os.Remove(filepath.Join(root, "fashion-mnist", "t10k-labels-idx1-ubyte.gz"))
	os.Remove(filepath.Join(root, "fashion-mnist", "train-images-idx3-ubyte.gz"))
	mismatch := dataRoot(t, false)
	// Test images of another size than the training images.
	writeFile(t, filepath.Join(mismatch, "fashion-mnist"), "t10k-images-idx3-ubyte.gz",
		gz(t, idxBytes(0x803, []uint32{200, 2, 2}, make([]byte, 800))))
	notDir := writeFile(t, t.TempDir(), "file", []byte("x"))
	cases := []struct {
		name, reason string
		spec, root   string
		want         []string
		is           error
	}{
		{"missing files", "make data was not run (two files absent)", "fashion-mnist", root,
			[]string{"dataset: fashion-mnist: missing train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in " + filepath.Join(root, "fashion-mnist"), "run `make data`"}, fs.ErrNotExist},
		{"missing mnist", "an empty root holds nothing", "mnist", t.TempDir(),
			[]string{"dataset: mnist: missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz", "make data"}, fs.ErrNotExist},
		{"unknown", "neither a known name nor a path", "imagenet", "", []string{`unknown data set "imagenet"`}, fs.ErrNotExist},
		{"not a directory", "a path to a file", notDir, "", []string{"is not a directory"}, nil},
		{"shape mismatch", "test images 2x2, train 28x28", "fashion-mnist", mismatch, []string{"fashion-mnist/train images are 1x28x28 but fashion-mnist/test images are 1x2x2"}, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Load(c.spec, c.root)
			if err == nil {
				t.Fatalf("%s: no error", c.reason)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%s: error %q does not contain %q", c.reason, err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("%s: error %v does not wrap %v", c.reason, err, c.is)
			}
		})
	}
}
