package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrFormat is wrapped by every error about the content of a data file (as
// opposed to a file that cannot be opened or read).
var ErrFormat = errors.New("malformed data file")

const (
	// maxFileBytes bounds the size of a data file, compressed or not, and of
	// its decompressed content: 2 GiB, far above any data set read here
	// (Fashion-MNIST's training images are 47 MB, CIFAR-10's 150 MB).
	maxFileBytes = 1 << 31
	// maxGzipRatio bounds decompressed/compressed size. Deflate cannot
	// exceed about 1032:1; the slack covers headers of tiny files.
	maxGzipRatio = 1100
	gzipSlack    = 1 << 12
)

// readFile reads the file at path and, when it starts with the gzip magic
// bytes 1f 8b, decompresses it.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("dataset: %s: not a regular file", path)
	}
	if fi.Size() > maxFileBytes {
		return nil, fmt.Errorf("dataset: %s: %d bytes is more than the limit of %d: %w", path, fi.Size(), maxFileBytes, ErrFormat)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	data, err := decode(raw, gzipLimit(len(raw)))
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	return data, nil
}

// gzipLimit is the most bytes a gzip stream of n bytes may decompress to.
func gzipLimit(n int) int64 {
	l := int64(n)*maxGzipRatio + gzipSlack
	return min(l, maxFileBytes)
}

// decode returns raw itself, or its gzip decompression when raw starts with
// the gzip magic, refusing to produce more than limit bytes.
func decode(raw []byte, limit int64) ([]byte, error) {
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w: %w", err, ErrFormat)
	}
	var buf bytes.Buffer
	if len(raw) >= 4 {
		// The trailer's ISIZE (size mod 2^32) is a hint only, capped by limit.
		hint := int64(binary.LittleEndian.Uint32(raw[len(raw)-4:]))
		buf.Grow(int(min(hint, limit)) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w: %w", err, ErrFormat)
	}
	if n > limit {
		return nil, fmt.Errorf("gzip: decompresses to more than %d bytes (%d compressed): %w", limit, len(raw), ErrFormat)
	}
	return buf.Bytes(), nil
}
