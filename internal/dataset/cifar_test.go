package dataset

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// planeValue is the fixture's pixel of channel c at (y, x) of image img:
// distinct for R, G and B, so a channel mix-up shows.
func planeValue(img, c, y, x int) byte {
	return byte(img*13 + c*85 + y*3 + x*5)
}

// cifarRecords builds n records; image i has label (i+first)%10.
func cifarRecords(n, first int) []byte {
	out := make([]byte, 0, n*cifarRecord)
	for i := range n {
		img := i + first
		out = append(out, byte(img%10))
		for c := range 3 {
			for y := range 32 {
				for x := range 32 {
					out = append(out, planeValue(img, c, y, x))
				}
			}
		}
	}
	return out
}

// cifarDir writes the six batches: 2 records per training batch, 3 test.
func cifarDir(t *testing.T) string {
	dir := t.TempDir()
	for i, f := range cifarTrainFiles {
		data := cifarRecords(2, 2*i)
		if i == 1 {
			data = gz(t, data) // gzipped batches load too
		}
		writeFile(t, dir, f, data)
	}
	writeFile(t, dir, cifarTestFiles[0], cifarRecords(3, 100))
	return dir
}

func TestLoadCIFARDir(t *testing.T) {
	dir := cifarDir(t)
	train, test, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s     *Set
		n     int
		first int
		name  string
	}{{train, 10, 0, filepath.Base(dir) + "/train"}, {test, 3, 100, filepath.Base(dir) + "/test"}} {
		s := c.s
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.Name != c.name || s.Len() != c.n || s.C != 3 || s.H != 32 || s.W != 32 || s.Classes != 10 {
			t.Fatalf("got %s: %d images %dx%dx%d, %d classes; want %s: %d of 3x32x32, 10 classes",
				s.Name, s.Len(), s.C, s.H, s.W, s.Classes, c.name, c.n)
		}
		for i := range s.Len() {
			img := i + c.first
			if s.Y[i] != int64(img%10) {
				t.Fatalf("%s: label %d = %d, want %d", s.Name, i, s.Y[i], img%10)
			}
			for ch := range 3 {
				for y := range 32 {
					for x := range 32 {
						got := s.X[((i*3+ch)*32+y)*32+x]
						if want := float32(planeValue(img, ch, y, x)); got != want {
							t.Fatalf("%s: image %d channel %d (%d,%d) = %v, want %v (NCHW, R,G,B)", s.Name, i, ch, y, x, got, want)
						}
					}
				}
			}
		}
	}
}

func TestCIFARErrors(t *testing.T) {
	badLabel := cifarRecords(2, 0)
	badLabel[cifarRecord] = 10
	cases := []struct {
		name, reason string
		data         []byte
		want         string
	}{
		{"empty", "a batch with no records", nil, "empty CIFAR-10 batch"},
		{"one byte short", "the last record lost its last blue pixel", cifarRecords(2, 0)[:2*cifarRecord-1], "1 whole 3073-byte records and 3072 bytes more"},
		{"one byte long", "a stray byte after the records", append(cifarRecords(1, 0), 0), "1 whole 3073-byte records and 1 bytes more"},
		{"label 10", "CIFAR-10 labels are 0..9", badLabel, "label 10 of record 1 is outside [0, 10)"},
		{"cifar-100", "a CIFAR-100 record has 2 label bytes (3074 bytes)", make([]byte, 3074), "truncated CIFAR-10 batch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := parseCIFAR10(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrFormat) {
				t.Fatalf("%s: got %v, want an ErrFormat containing %q", c.reason, err, c.want)
			}
		})
	}
}

func TestLoadCIFARErrors(t *testing.T) {
	dir := cifarDir(t)
	writeFile(t, dir, "data_batch_3.bin", cifarRecords(2, 0)[:100])
	if _, _, err := Load(dir, ""); err == nil || !strings.Contains(err.Error(), "data_batch_3.bin: truncated CIFAR-10 batch") {
		t.Fatalf("truncated batch 3: got %v", err)
	}
	if _, err := LoadCIFAR10("x"); err == nil {
		t.Fatal("no files: want an error")
	}
	partial := t.TempDir()
	writeFile(t, partial, "data_batch_1.bin", cifarRecords(1, 0))
	writeFile(t, partial, "data_batch_4.bin", cifarRecords(1, 0))
	_, _, err := Load(partial, "")
	want := "missing data_batch_2.bin, data_batch_3.bin, data_batch_5.bin, test_batch.bin in " + partial
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("partial CIFAR directory: got %v, want %q wrapping fs.ErrNotExist", err, want)
	}
	_, _, err = Load("cifar10", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "cifar-10-binary.tar.gz") {
		t.Fatalf("cifar10 not downloaded: got %v, want a download hint", err)
	}
}
