package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nas-project/nas/internal/testenv"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the nas command inside scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"nas": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: each is a txtar
// archive whose comment is a testscript (exit codes, output, files).
func TestScripts(t *testing.T) {
	// The ORT library and the data directory, as make provides them (or
	// where make puts them in this checkout).
	lib := testenv.ORTLibrary(t)
	data := os.Getenv("NAS_DATA")
	if data == "" {
		data = filepath.Join(testenv.ModuleRoot(t), ".data")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("NAS_ORT_LIB", lib)
			env.Setenv("NAS_DATA", data)
			return nil
		},
	})
}
