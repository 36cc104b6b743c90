package onnxgen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// checkerPython is Debian's python with python3-onnx 1.12, whose checker
// validates exactly IR 8 / opset 17.
const checkerPython = "/usr/bin/python3"

// checkerScript runs onnx.checker.check_model(full_check=True) on every
// file named in argv and prints "ok <file>" or "FAIL <file>: <error>".
const checkerScript = `
import sys, onnx
bad = 0
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
        print("ok", p)
    except Exception as e:
        bad += 1
        print("FAIL", p + ":", str(e).replace("\n", " "))
sys.exit(1 if bad else 0)
`

// TestChecker writes the model of every golden case that compiles and runs
// the ONNX checker (full_check: shape inference included) on all of them in
// one python process.
func TestChecker(t *testing.T) {
	if out, err := exec.Command(checkerPython, "-c", "import onnx").CombinedOutput(); err != nil {
		t.Fatalf("%s with the onnx module is needed (run `make test-deps`, or apt-get install python3-onnx): %v\n%s", checkerPython, err, out)
	}
	dir := t.TempDir()
	var files []string
	for _, file := range goldenFiles(t) {
		c := readGolden(t, file)
		_, models := generate(c)
		for name, m := range models {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, fmt.Sprintf("%s.%s.onnx", strings.TrimSuffix(filepath.Base(file), ".txtar"), name))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d models to check", len(files))
	}
	out, err := exec.Command(checkerPython, append([]string{"-c", checkerScript}, files...)...).CombinedOutput()
	if err != nil {
		t.Errorf("onnx checker: %v", err)
	}
	var ok int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "ok ") {
			ok++
		} else {
			t.Error(line)
		}
	}
	if ok != len(files) {
		t.Errorf("checker passed %d of %d models", ok, len(files))
	}
}
