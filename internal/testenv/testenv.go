// Package testenv finds what the tests of nas need outside the Go module:
// the ONNX Runtime library that `make ort` fetches. Tests that need it fail,
// never skip, when it is missing, saying how to get it.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// ModuleRoot is the directory holding go.mod, above the test's directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// ORTLibrary is the ONNX Runtime library: $NAS_ORT_LIB (the Makefile sets
// it), else <module root>/.ort/libonnxruntime.so.1. A missing library fails
// the test.
func ORTLibrary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("NAS_ORT_LIB")
	if p == "" {
		p = filepath.Join(ModuleRoot(t), ".ort", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ONNX Runtime library missing (%v): run make ort or set NAS_ORT_LIB", err)
	}
	return p
}
