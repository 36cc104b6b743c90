package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/internal/testenv"
	"github.com/nas-project/nas/search"

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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"digits-images": digitsImages, "sametrials": sameTrials, "waittrials": waitTrials},
		Condition: func(cond string) (bool, error) {
			if cond != "romount" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			return canMountReadOnly(), nil
		},
	})
}

// canMountReadOnly reports whether this process can make a read-only bind
// mount in a mount namespace of its own (unshare -m: root, or the
// capability), the condition "romount" of the scripts.
func canMountReadOnly() bool {
	d, err := os.MkdirTemp("", "romount")
	if err != nil {
		return false
	}
	defer os.Remove(d)
	return exec.Command("unshare", "-m", "sh", "-c", `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && ! touch "$0/x" 2>/dev/null`, d).Run() == nil
}

// digitsImages is the script command "digits-images DIR N": the first N
// training and N/4 test images of the digits fixture as PNG files in an
// image folder, DIR/{train,test}/<label>/<index>.png.
func digitsImages(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: digits-images DIR N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	train, test, err := dataset.Load("digits", "")
	ts.Check(err)
	for _, sp := range []struct {
		name string
		s    *dataset.Set
		n    int
	}{{"train", train, n}, {"test", test, n / 4}} {
		for i := range sp.n {
			img := image.NewGray(image.Rect(0, 0, sp.s.W, sp.s.H))
			for k, v := range sp.s.X[i*sp.s.ImageSize() : (i+1)*sp.s.ImageSize()] {
				img.Pix[k] = uint8(v)
			}
			var buf bytes.Buffer
			ts.Check(png.Encode(&buf, img))
			dir := ts.MkAbs(filepath.Join(args[0], sp.name, strconv.FormatInt(sp.s.Y[i], 10)))
			ts.Check(os.MkdirAll(dir, 0o755))
			ts.Check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.png", i)), buf.Bytes(), 0o644))
		}
	}
}

// sameTrials is the script command "sametrials DIR1 DIR2": the two runs'
// trial tables hold the same trials (index, iteration, architecture,
// status, reward, accuracies, size, seed, duplicate source, error), whoever
// trained them, whenever, and in how many attempts (a run killed and
// resumed hands its interrupted trials out again).
func sameTrials(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sametrials DIR1 DIR2")
	}
	_, a, err := search.ReadRun(ts.MkAbs(args[0]))
	ts.Check(err)
	_, b, err := search.ReadRun(ts.MkAbs(args[1]))
	ts.Check(err)
	strip := func(rs []search.Record) []search.Record {
		out := make([]search.Record, len(rs))
		for i, r := range rs {
			r.Worker, r.Seconds, r.Started, r.Finished, r.Attempts = "", 0, time.Time{}, time.Time{}, 0
			out[i] = r
		}
		return out
	}
	if d := cmp.Diff(strip(a), strip(b)); d != "" {
		ts.Fatalf("trial tables differ (-%s +%s):\n%s", args[0], args[1], d)
	}
	ts.Logf("%d trials, the same in both", len(a))
}

// waitTrials is the script command "waittrials DIR N": wait (up to two
// minutes) until the run in DIR has recorded N final trials.
func waitTrials(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waittrials DIR N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		final, running := 0, 0
		if _, recs, err := search.ReadRun(ts.MkAbs(args[0])); err == nil {
			for _, r := range recs {
				if r.Status == search.Running {
					running++
				} else {
					final++
				}
			}
		}
		if final >= n {
			ts.Logf("%d final trials, %d running", final, running)
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: %d final trials after two minutes, want %d", args[0], final, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
