package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/internal/testenv"
	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
)

// TestExportAccuracy: the test accuracy nas export writes into the model's
// metadata is what the file itself scores on the raw test split through ONNX
// Runtime, for the best trial and for one retrained from its seed.
func TestExportAccuracy(t *testing.T) {
	lib := testenv.ORTLibrary(t)
	dir := t.TempDir()
	nas := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(append(args, "--ort-lib", lib, "--threads", "1"), &out, &errb); code != 0 {
			t.Fatalf("nas %q: status %d\n%s%s", args, code, out.String(), errb.String())
		}
	}
	run := filepath.Join(dir, "run")
	nas("search", "--dir", run, "--data", "digits", "--trials", "8", "--train-size", "300", "--val-size", "100", "--start-layers", "2", "-q")
	rt, err := runner.New(runner.Config{LibraryPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := dataset.Load("digits", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, trial := range []string{"best", "1"} { // the best (no --trial), and trial 1 retrained
		path := filepath.Join(dir, "m"+trial+".onnx")
		args := []string{"export", run, "-o", path}
		if trial != "best" {
			args = append(args, "--trial", trial)
		}
		nas(args...)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		stored := ""
		for _, p := range m.GetMetadataProps() {
			if p.GetKey() == "nas.test_accuracy" {
				stored = p.GetValue()
			}
		}
		acc, err := modelAccuracy(t.Context(), rt, b, test, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := strconv.FormatFloat(acc, 'f', 4, 64); got != stored {
			t.Errorf("trial %s: the file scores %s on the test split, its metadata says %q", trial, got, stored)
		}
	}
}

// TestModelAccuracyCancel: the test-accuracy pass (nas export, the end of nas
// search) stops at an interrupt instead of running every batch.
func TestModelAccuracyCancel(t *testing.T) {
	lib := testenv.ORTLibrary(t)
	rt, err := runner.New(runner.Config{LibraryPath: lib, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := dataset.Load("digits", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Not a model: a pass that ran a batch would fail with ORT's error.
	if _, err := modelAccuracy(ctx, rt, []byte("not a model"), test, 64); !errors.Is(err, context.Canceled) {
		t.Fatalf("modelAccuracy with a cancelled context: %v, want context.Canceled", err)
	}
}
