package main

import (
	"os"
	"path/filepath"
	"testing"

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
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// The ORT library and the data directory, as make provides them
			// (or where make puts them in this checkout).
			for k, def := range map[string]string{"NAS_ORT_LIB": "../../.ort/libonnxruntime.so.1", "NAS_DATA": "../../.data"} {
				v := os.Getenv(k)
				if v == "" {
					abs, err := filepath.Abs(def)
					if err != nil {
						return err
					}
					v = abs
				}
				env.Setenv(k, v)
			}
			return nil
		},
	})
}
