package dataset

import "fmt"

// CIFAR-10 binary format: records of 1 label byte then 32×32 red, green and
// blue planes (row-major), which is already CHW order.
const (
	cifarSide    = 32
	cifarPlane   = cifarSide * cifarSide
	cifarImage   = 3 * cifarPlane
	cifarRecord  = 1 + cifarImage
	cifarClasses = 10
)

// CIFAR-10 batch file names, as in the official cifar-10-binary.tar.gz.
var (
	cifarTrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	cifarTestFiles  = []string{"test_batch.bin"}
)

// LoadCIFAR10 reads CIFAR-10 binary batch files (gzipped or raw), in order,
// into one Set named name: C = 3, H = W = 32, 10 classes.
func LoadCIFAR10(name string, paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("dataset: %s: no CIFAR-10 batch files given", name)
	}
	s := &Set{Name: name, C: 3, H: cifarSide, W: cifarSide, Classes: cifarClasses}
	for _, p := range paths {
		data, err := readFile(p)
		if err != nil {
			return nil, err
		}
		x, y, err := parseCIFAR10(data)
		if err != nil {
			return nil, fmt.Errorf("dataset: %s: %w", p, err)
		}
		s.X = append(s.X, x...)
		s.Y = append(s.Y, y...)
	}
	return s, nil
}

// parseCIFAR10 parses one decompressed CIFAR-10 batch.
func parseCIFAR10(data []byte) ([]float32, []int64, error) {
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("empty CIFAR-10 batch: %w", ErrFormat)
	}
	if r := len(data) % cifarRecord; r != 0 {
		return nil, nil, fmt.Errorf("truncated CIFAR-10 batch: %d bytes is %d whole %d-byte records and %d bytes more: %w",
			len(data), len(data)/cifarRecord, cifarRecord, r, ErrFormat)
	}
	n := len(data) / cifarRecord
	x := make([]float32, n*cifarImage)
	y := make([]int64, n)
	for i := range n {
		rec := data[i*cifarRecord : (i+1)*cifarRecord]
		if rec[0] >= cifarClasses {
			return nil, nil, fmt.Errorf("label %d of record %d is outside [0, %d): %w", rec[0], i, cifarClasses, ErrFormat)
		}
		y[i] = int64(rec[0])
		dst := x[i*cifarImage : (i+1)*cifarImage]
		for j, b := range rec[1:] {
			dst[j] = float32(b)
		}
	}
	return x, y, nil
}
