package dataset

import (
	"encoding/binary"
	"fmt"
)

// IDX magic numbers: two zero bytes, the element type (0x08: unsigned byte),
// the number of dimensions.
const (
	idxUbyte  = 0x08
	idxImages = 0x00000803
	idxLabels = 0x00000801
)

// LoadIDX reads an IDX image file (magic 0x803, n×h×w unsigned bytes) and an
// IDX label file (magic 0x801, n unsigned bytes), each gzipped or raw, into a
// Set named name with C = 1. classes > 0 fixes the number of classes (a label
// ≥ classes is an error); classes ≤ 0 infers it as the largest label + 1.
func LoadIDX(name, imagesPath, labelsPath string, classes int) (*Set, error) {
	img, err := readFile(imagesPath)
	if err != nil {
		return nil, err
	}
	lab, err := readFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return idxSet(name, img, lab, imagesPath, labelsPath, classes)
}

// idxSet builds a Set from decompressed IDX image and label data; the paths
// name the data in errors.
func idxSet(name string, img, lab []byte, imagesPath, labelsPath string, classes int) (*Set, error) {
	n, h, w, x, err := parseIDXImages(img)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", imagesPath, err)
	}
	y, err := parseIDXLabels(lab)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", labelsPath, err)
	}
	if len(y) != n {
		return nil, fmt.Errorf("dataset: %s has %d labels but %s has %d images: %w", labelsPath, len(y), imagesPath, n, ErrFormat)
	}
	if classes <= 0 {
		classes = int(maxLabel(y)) + 1
	}
	if err := checkLabels(y, classes); err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", labelsPath, err)
	}
	return &Set{Name: name, C: 1, H: h, W: w, Classes: classes, X: x, Y: y}, nil
}

func maxLabel(y []int64) int64 {
	var m int64
	for _, v := range y {
		m = max(m, v)
	}
	return m
}

// checkLabels reports the first label outside [0, classes).
func checkLabels(y []int64, classes int) error {
	for i, v := range y {
		if v < 0 || v >= int64(classes) {
			return fmt.Errorf("label %d of item %d is outside [0, %d): %w", v, i, classes, ErrFormat)
		}
	}
	return nil
}

// idxHeader checks the magic number and reads the dimensions of an IDX file
// of unsigned bytes with want dimensions. It returns the dimensions and the
// data after the header, whose length must be their product exactly.
func idxHeader(data []byte, kind string, want int) ([]int, []byte, error) {
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("truncated header: %d bytes, want at least 4 for the magic number: %w", len(data), ErrFormat)
	}
	magic := binary.BigEndian.Uint32(data)
	if data[0] != 0 || data[1] != 0 || data[2] != idxUbyte {
		return nil, nil, fmt.Errorf("magic number 0x%08x is not an IDX %s file (want 0x%08x): %w",
			magic, kind, 0x800|want, ErrFormat)
	}
	if got := int(data[3]); got != want {
		return nil, nil, fmt.Errorf("IDX file has %d dimensions (magic 0x%08x), want %d for %s: %w", got, magic, want, kind, ErrFormat)
	}
	hdr := 4 + 4*want
	if len(data) < hdr {
		return nil, nil, fmt.Errorf("truncated header: %d bytes, want %d: %w", len(data), hdr, ErrFormat)
	}
	body := data[hdr:]
	dims := make([]int, want)
	for i := range dims {
		if binary.BigEndian.Uint32(data[4+4*i:]) == 0 {
			return nil, nil, fmt.Errorf("dimension %d is zero: %w", i, ErrFormat)
		}
	}
	total := uint64(1)
	for i := range dims {
		// Never trust the header: the product may not exceed the bytes present
		// (checked per factor, so it cannot overflow).
		total *= uint64(binary.BigEndian.Uint32(data[4+4*i:]))
		if total > uint64(len(body)) {
			return nil, nil, fmt.Errorf("truncated data: header claims %s %v, more than the %d data bytes present: %w",
				kind, headerDims(data, want), len(body), ErrFormat)
		}
		dims[i] = int(binary.BigEndian.Uint32(data[4+4*i:]))
	}
	if total != uint64(len(body)) {
		return nil, nil, fmt.Errorf("%d trailing bytes after the %d data bytes of %s %v: %w",
			uint64(len(body))-total, total, kind, dims, ErrFormat)
	}
	return dims, body, nil
}

func headerDims(data []byte, n int) []uint32 {
	d := make([]uint32, n)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(data[4+4*i:])
	}
	return d
}

// parseIDXImages parses decompressed IDX image data: n images of h×w.
func parseIDXImages(data []byte) (n, h, w int, x []float32, err error) {
	dims, body, err := idxHeader(data, "images", 3)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	x = make([]float32, len(body))
	for i, b := range body {
		x[i] = float32(b)
	}
	return dims[0], dims[1], dims[2], x, nil
}

// parseIDXLabels parses decompressed IDX label data.
func parseIDXLabels(data []byte) ([]int64, error) {
	_, body, err := idxHeader(data, "labels", 1)
	if err != nil {
		return nil, err
	}
	y := make([]int64, len(body))
	for i, b := range body {
		y[i] = int64(b)
	}
	return y, nil
}
