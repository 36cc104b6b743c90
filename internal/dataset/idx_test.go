package dataset

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseIDXImages(t *testing.T) {
	body := seq(2*3*4, 7, 1)
	n, h, w, x, err := parseIDXImages(idxBytes(0x803, []uint32{2, 3, 4}, body))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || h != 3 || w != 4 || len(x) != len(body) {
		t.Fatalf("got n=%d h=%d w=%d len=%d, want 2 3 4 %d", n, h, w, len(x), len(body))
	}
	for i, b := range body {
		if x[i] != float32(b) {
			t.Fatalf("x[%d] = %v, want %d", i, x[i], b)
		}
	}
}

func TestIDXErrors(t *testing.T) {
	good := seq(2*3*4, 1, 0)
	cases := []struct {
		name, reason string
		labels       bool // parse as labels, not images
		data         []byte
		want         string
	}{
		{"empty", "no magic number at all", false, nil, "truncated header: 0 bytes"},
		{"short magic", "3 bytes cannot hold the magic", false, []byte{0, 0, 8}, "truncated header: 3 bytes"},
		{"labels as images", "a label file's magic is 0x801, not 0x803", false, idxBytes(0x801, []uint32{4}, seq(4, 1, 0)), "has 1 dimensions"},
		{"images as labels", "an image file given where labels are expected", true, idxBytes(0x803, []uint32{2, 3, 4}, good), "has 3 dimensions"},
		{"float type", "element type 0x0d (float) is not unsigned byte", false, idxBytes(0x0d03, []uint32{2, 3, 4}, good), "not an IDX images file"},
		{"nonzero lead", "the first two magic bytes must be zero", false, idxBytes(0x01000803, []uint32{2, 3, 4}, good), "not an IDX images file"},
		{"png", "a different file format entirely", false, []byte("\x89PNG\r\n\x1a\n...."), "not an IDX images file"},
		{"short dims", "header ends inside the dimensions", false, idxBytes(0x803, []uint32{2, 3}, nil), "truncated header: 12 bytes, want 16"},
		{"zero dim", "an image side of 0 makes no images", false, idxBytes(0x803, []uint32{2, 0, 4}, nil), "dimension 1 is zero"},
		{"zero count", "a file with no items", true, idxBytes(0x801, []uint32{0}, nil), "dimension 0 is zero"},
		{"truncated data", "one pixel missing", false, idxBytes(0x803, []uint32{2, 3, 4}, good[:23]), "truncated data"},
		{"absurd header", "the header claims 2^96 bytes; nothing may be allocated from it", false,
			idxBytes(0x803, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, good), "more than the 24 data bytes present"},
		{"trailing", "bytes after the data mean a wrong header", false, idxBytes(0x803, []uint32{2, 3, 4}, append(good, 9)), "1 trailing bytes"},
		{"labels truncated", "fewer labels than the header says", true, idxBytes(0x801, []uint32{5}, seq(4, 1, 0)), "truncated data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.labels {
				_, err = parseIDXLabels(c.data)
			} else {
				_, _, _, _, err = parseIDXImages(c.data)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrFormat) {
				t.Fatalf("%s: got error %v, want one containing %q and wrapping ErrFormat", c.reason, err, c.want)
			}
		})
	}
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	img := idxBytes(0x803, []uint32{3, 2, 2}, seq(12, 20, 5))
	lab := idxBytes(0x801, []uint32{3}, []byte{2, 0, 1})
	// Gzipped and raw files of the same content load the same.
	for _, pair := range [][2]string{
		{writeFile(t, dir, "i.gz", gz(t, img)), writeFile(t, dir, "l.gz", gz(t, lab))},
		{writeFile(t, dir, "i", img), writeFile(t, dir, "l", lab)},
	} {
		s, err := LoadIDX("x", pair[0], pair[1], 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.Len() != 3 || s.C != 1 || s.H != 2 || s.W != 2 || s.Classes != 3 {
			t.Fatalf("%s: got %d images %dx%dx%d, %d classes; want 3 of 1x2x2, 3 classes", pair[0], s.Len(), s.C, s.H, s.W, s.Classes)
		}
		if s.X[11] != float32(byte(11*20+5)) || s.Y[0] != 2 {
			t.Fatalf("%s: X[11]=%v Y[0]=%d", pair[0], s.X[11], s.Y[0])
		}
	}
}

func TestLoadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	img := writeFile(t, dir, "img", idxBytes(0x803, []uint32{3, 2, 2}, seq(12, 1, 0)))
	lab3 := writeFile(t, dir, "lab3", idxBytes(0x801, []uint32{3}, []byte{2, 0, 1}))
	lab4 := writeFile(t, dir, "lab4", idxBytes(0x801, []uint32{4}, []byte{2, 0, 1, 1}))
	lab11 := writeFile(t, dir, "lab11", idxBytes(0x801, []uint32{3}, []byte{2, 10, 1}))
	full := gz(t, idxBytes(0x803, []uint32{3, 2, 2}, seq(12, 1, 0)))
	cut := writeFile(t, dir, "cut.gz", full[:len(full)-6])
	badgz := writeFile(t, dir, "bad.gz", []byte{0x1f, 0x8b, 0, 0, 0})
	cases := []struct {
		name, reason string
		img, lab     string
		classes      int
		want         string
		is           error
	}{
		{"count mismatch", "4 labels for 3 images", img, lab4, 0, "has 4 labels but " + img + " has 3 images", ErrFormat},
		{"label range", "label 10 with 10 classes", img, lab11, 10, "label 10 of item 1 is outside [0, 10)", ErrFormat},
		{"one class", "all labels 0 would infer one class; fixed classes 2 with label 2 fails", img, lab3, 2, "label 2 of item 0", ErrFormat},
		{"missing images", "the file does not exist", filepath.Join(dir, "nope"), lab3, 0, "nope", fs.ErrNotExist},
		{"directory", "a directory is not a data file", dir, lab3, 0, "not a regular file", nil},
		{"truncated gzip", "the gzip stream ends early", cut, lab3, 0, "cut.gz: gzip: unexpected EOF", ErrFormat},
		{"bad gzip header", "gzip magic then garbage", badgz, lab3, 0, "bad.gz: gzip:", ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadIDX("x", c.img, c.lab, c.classes)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Fatalf("%s: got error %v, want one starting with \"dataset: \" and containing %q", c.reason, err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("%s: error %v does not wrap %v", c.reason, err, c.is)
			}
		})
	}
}

func TestDecodeBound(t *testing.T) {
	// 1 MB of zeros compresses about 1000:1; a limit below the content must
	// refuse it rather than grow the buffer without bound.
	zeros := make([]byte, 1<<20)
	z := gz(t, zeros)
	if _, err := decode(z, 1<<19); err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "more than 524288 bytes") {
		t.Fatalf("got %v, want a decompression bound error", err)
	}
	got, err := decode(z, gzipLimit(len(z)))
	if err != nil || len(got) != len(zeros) {
		t.Fatalf("within the bound: got %d bytes, %v; want %d", len(got), err, len(zeros))
	}
	if l := gzipLimit(10); l != 10*maxGzipRatio+gzipSlack {
		t.Fatalf("gzipLimit(10) = %d", l)
	}
	if l := gzipLimit(1 << 30); l != maxFileBytes {
		t.Fatalf("gzipLimit(1 GiB) = %d, want the cap %d", l, maxFileBytes)
	}
	// A raw file is returned as is.
	raw := []byte{0, 0, 8, 3}
	if got, err := decode(raw, 1); err != nil || &got[0] != &raw[0] {
		t.Fatalf("raw data: %v", err)
	}
}
