package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFileAtomicLeavesNothing: a write that fails (here: the path is a
// directory, as with -o /tmp) leaves no temporary file behind.
func TestWriteFileAtomicLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(dir, []byte("model")); err == nil {
		t.Fatal("writing over a directory: no error")
	}
	for _, d := range []string{parent, dir} {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".nas") {
				t.Errorf("left behind: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}

func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path, want string // want "": no error
	}{
		{filepath.Join(dir, "m.onnx"), ""},
		{"", ""}, // no -o: nothing to check
		{dir, "is a directory"},
		{filepath.Join(dir, "nodir", "m.onnx"), "does not exist"},
	} {
		err := checkOutput(c.path)
		var ue usageError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want no error", c.path, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ue)):
			t.Errorf("%q: %v, want a usage error containing %q", c.path, err, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("checkOutput left %d files in %s", len(ents), dir)
	}
}
