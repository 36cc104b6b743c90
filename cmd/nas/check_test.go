package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
