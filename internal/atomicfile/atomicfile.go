// Package atomicfile writes files so that a reader, or the file system after
// a crash, sees either the old content or the new, never a part: the data
// goes to a temporary file in the same directory, which is synced, given mode
// 0644, renamed over the target, and the directory synced. Every failure
// removes the temporary file. A temporary file survives only a process killed
// mid-write; Clean removes those. nas writes every file this way (best.onnx,
// the controller checkpoint, exported models, plots).
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Mode is the permission of every file written (before the umask).
const Mode os.FileMode = 0o644

// tempSuffix marks a temporary file: "." + base + tempSuffix + random.
const tempSuffix = ".tmp-"

// Write writes data to path atomically.
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// WriteFunc writes what write writes to path atomically; an error from
// write leaves path as it was.
func WriteFunc(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("write %s: not a file name", path)
	}
	f, err := os.CreateTemp(dir, "."+base+tempSuffix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(Mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. File systems that cannot sync a
// directory (EINVAL) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// IsTemp reports whether name (a base name) is a temporary file of Write.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempSuffix)
}

// Clean removes the temporary files that writes interrupted by a crash left
// in dir, and any other file whose base name match says is one (for the
// names earlier versions used), and returns the names removed.
func Clean(dir string, match func(name string) bool) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clean %s: %w", dir, err)
	}
	var removed []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !(IsTemp(n) || match != nil && match(n)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
			return removed, fmt.Errorf("clean %s: %w", dir, err)
		}
		removed = append(removed, n)
	}
	return removed, nil
}
