package text

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// Limits on what the loaders read.
const (
	// MaxFileSize is the largest file a loader reads (the PTB training file
	// is 5 MB, the whole Brown corpus 11 MB).
	MaxFileSize = 256 << 20
	// MaxLineSize is the longest line, in bytes without the newline.
	MaxLineSize = 1 << 20
)

// readFile reads a whole text file of at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("text: %s is not a regular file: %w", path, ErrFormat)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("text: %s: %d bytes, over the limit of %d: %w", path, fi.Size(), MaxFileSize, ErrFormat)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("text: %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("text: %s: over the limit of %d bytes: %w", path, MaxFileSize, ErrFormat)
	}
	return data, nil
}

// checkText reports the first reason data is not a text file this package
// reads: a NUL byte (a binary file), invalid UTF-8, a line longer than
// MaxLineSize. Positions are 1-based lines and 0-based byte offsets, both
// in the line and in the file.
func checkText(name string, data []byte) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("text: %s: %d bytes, over the limit of %d: %w", name, len(data), MaxFileSize, ErrFormat)
	}
	line, start := 1, 0
	for start <= len(data) {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start
		}
		l := data[start:end]
		if len(l) > MaxLineSize {
			return fmt.Errorf("text: %s:%d: line of %d bytes (offset %d), over the limit of %d: %w", name, line, len(l), start, MaxLineSize, ErrFormat)
		}
		if i := bytes.IndexByte(l, 0); i >= 0 {
			return fmt.Errorf("text: %s:%d: NUL byte at offset %d (byte %d of the line): a binary file, not text: %w", name, line, start+i, i, ErrFormat)
		}
		if !utf8.Valid(l) {
			i := firstInvalid(string(l))
			return fmt.Errorf("text: %s:%d: invalid UTF-8 at offset %d (byte %d of the line): %w", name, line, start+i, i, ErrFormat)
		}
		line++
		start = end + 1
	}
	return nil
}

// lines calls fn for each line of data (without its newline; a last line
// without a newline counts, a final newline adds no empty line), with its
// 1-based number.
func lines(data []byte, fn func(n int, line []byte) error) error {
	n := 0
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		if err := fn(n, l); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
