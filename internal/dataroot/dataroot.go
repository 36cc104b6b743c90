// Package dataroot finds the data directory that `make data` fills: the one
// place both the image sets (internal/dataset) and the text corpora
// (internal/text) are looked up. It imports nothing of nas.
package dataroot

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the module whose checkout Default looks for.
const modulePath = "github.com/nas-project/nas"

// Default is the data directory used when a loader is given an empty root:
// $NAS_DATA when set (the Makefile sets it), else the .data folder of the
// nearest enclosing checkout of this module (found by its go.mod), else
// ".data" in the working directory.
func Default() string {
	if r := os.Getenv("NAS_DATA"); r != "" {
		return r
	}
	dir, err := os.Getwd()
	if err != nil {
		return ".data"
	}
	for {
		if isModuleRoot(dir) {
			return filepath.Join(dir, ".data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ".data"
		}
		dir = parent
	}
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module")) == modulePath
		}
	}
	return false
}
