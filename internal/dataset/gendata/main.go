// Command gendata regenerates the committed fixtures of package dataset:
//
//   - testdata/digits: scikit-learn's 8×8 digits (digits.csv.gz of Debian's
//     python3-sklearn: 1,797 rows of 64 pixels 0..16 and a label) as gzipped
//     IDX files, pixels scaled to 0..255 as round(v*255/16); the first 1,497
//     rows are the training split, the last 300 the test split.
//   - testdata/fashion-mnist-small: the first 1,000 training and the first 200
//     test images and labels of Fashion-MNIST (the gzipped IDX files of
//     Debian's dataset-fashion-mnist, or .data/fashion-mnist after `make data`).
//
// Run it with `go generate ./internal/dataset` from the repository root. The
// gzip output carries no name or time, so the same input gives the same bytes.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	digits := flag.String("digits", "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz", "scikit-learn's digits.csv.gz")
	fashion := flag.String("fashion", "../../.data/fashion-mnist", "directory holding Fashion-MNIST's four .gz IDX files")
	out := flag.String("out", "testdata", "output directory")
	nTrain := flag.Int("fashion-train", 1000, "Fashion-MNIST training images to keep")
	nTest := flag.Int("fashion-test", 200, "Fashion-MNIST test images to keep")
	flag.Parse()
	if err := genDigits(*digits, filepath.Join(*out, "digits")); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
	if err := genFashion(*fashion, filepath.Join(*out, "fashion-mnist-small"), *nTrain, *nTest); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

const digitsTest = 300

func genDigits(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("digits: %w (install Debian's python3-sklearn)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("digits: %w", err)
	}
	rows, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		return fmt.Errorf("digits: %w", err)
	}
	var pix, lab []byte
	for i, r := range rows {
		if len(r) != 65 {
			return fmt.Errorf("digits: row %d has %d fields, want 65", i+1, len(r))
		}
		for j, s := range r {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v != float64(int(v)) || v < 0 || v > 16 || (j == 64 && v > 9) {
				return fmt.Errorf("digits: row %d field %d: bad value %q", i+1, j+1, s)
			}
			if j < 64 {
				pix = append(pix, byte((int(v)*255+8)/16))
			} else {
				lab = append(lab, byte(v))
			}
		}
	}
	n := len(lab)
	if n != 1797 {
		return fmt.Errorf("digits: %d rows, want 1797", n)
	}
	k := n - digitsTest
	return writeAll(dir, map[string][]byte{
		"train-images-idx3-ubyte.gz": idx(0x803, []uint32{uint32(k), 8, 8}, pix[:k*64]),
		"train-labels-idx1-ubyte.gz": idx(0x801, []uint32{uint32(k)}, lab[:k]),
		"t10k-images-idx3-ubyte.gz":  idx(0x803, []uint32{uint32(n - k), 8, 8}, pix[k*64:]),
		"t10k-labels-idx1-ubyte.gz":  idx(0x801, []uint32{uint32(n - k)}, lab[k:]),
	})
}

func genFashion(src, dir string, nTrain, nTest int) error {
	files := map[string][]byte{}
	for _, c := range []struct {
		name  string
		magic uint32
		n     int
	}{
		{"train-images-idx3-ubyte.gz", 0x803, nTrain},
		{"train-labels-idx1-ubyte.gz", 0x801, nTrain},
		{"t10k-images-idx3-ubyte.gz", 0x803, nTest},
		{"t10k-labels-idx1-ubyte.gz", 0x801, nTest},
	} {
		data, err := gunzip(filepath.Join(src, c.name))
		if err != nil {
			return fmt.Errorf("fashion-mnist: %w (run `make data`, or point -fashion at Debian's usr/share/datasets/fashion-mnist)", err)
		}
		nd := int(c.magic & 0xff)
		if len(data) < 4+4*nd || binary.BigEndian.Uint32(data) != c.magic {
			return fmt.Errorf("fashion-mnist: %s: not an IDX file with magic %#x", c.name, c.magic)
		}
		dims := make([]uint32, nd)
		item := 1
		for i := range dims {
			dims[i] = binary.BigEndian.Uint32(data[4+4*i:])
			if i > 0 {
				item *= int(dims[i])
			}
		}
		body := data[4+4*nd:]
		if int(dims[0]) < c.n || len(body) < c.n*item {
			return fmt.Errorf("fashion-mnist: %s has fewer than %d items", c.name, c.n)
		}
		dims[0] = uint32(c.n)
		files[c.name] = idx(c.magic, dims, body[:c.n*item])
	}
	return writeAll(dir, files)
}

func gunzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return io.ReadAll(zr)
}

// idx returns a gzipped IDX file of unsigned bytes.
func idx(magic uint32, dims []uint32, body []byte) []byte {
	var raw bytes.Buffer
	binary.Write(&raw, binary.BigEndian, magic)
	binary.Write(&raw, binary.BigEndian, dims)
	raw.Write(body)
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	return out.Bytes()
}

func writeAll(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for name, data := range files {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	return errors.Join(errs...)
}
