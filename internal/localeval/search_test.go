package localeval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nas-project/nas/search"
)

const helperEnv = "NAS_LOCALEVAL_HELPER"

type helperSpec struct {
	Dir      string
	Resume   bool
	Options  search.Options
	KillAt   int // SIGKILL itself after this many TrialFinished events; 0: never
	Parallel int
}

// TestHelperProcess is the search process of TestResumeRealTraining when
// NAS_LOCALEVAL_HELPER is set; otherwise it returns at once.
func TestHelperProcess(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		return
	}
	var h helperSpec
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	child := h.Options.Child
	if h.Resume {
		// A resumed run trains with the stored options, as the CLI does.
		stored, _, err := search.ReadRun(h.Dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		child = stored.Child
	}
	ev := evaluator(t, child)
	n := 0
	hook := func(e search.Event) {
		if _, ok := e.(*search.TrialFinished); ok {
			if n++; n == h.KillAt {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	if _, err := search.Run(context.Background(), search.Config{Dir: h.Dir, Resume: h.Resume, Options: h.Options, Evaluator: ev, Hook: hook}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	os.Exit(0)
}

func startHelper(t *testing.T, h helperSpec) *exec.Cmd {
	t.Helper()
	raw, _ := json.Marshal(h)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func final(t *testing.T, dir string) map[int]search.Record {
	t.Helper()
	_, recs, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]search.Record{}
	for _, r := range recs {
		if r.Status != search.Running {
			m[r.Index] = r
		}
	}
	return m
}

// TestResumeRealTraining: a search training real children (digits) is
// SIGKILLed twice, once right after a trial's commit and once by the clock
// while children train, and resumed: no completed trial is lost or changed,
// and the resumed run completes the budget.
func TestResumeRealTraining(t *testing.T) {
	o := search.Options{Strategy: search.StrategyRL, M: 4, Trials: 20, Parallel: 2, Schedule: search.Schedule{StartLayers: 2, LayerEvery: 8}, Seed: 5,
		Child: search.ChildOptions{Dataset: "digits", Epochs: 1, Batch: 32, TrainSize: 256, ValSize: 100}}
	dir := t.TempDir()
	cmd := startHelper(t, helperSpec{Dir: dir, Options: o, KillAt: 6})
	if err := cmd.Wait(); err == nil || !cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("first helper: %v, want killed", err)
	}
	kept := final(t, dir)
	t.Logf("killed after its 6th trial: %d final trials", len(kept))
	cmd = startHelper(t, helperSpec{Dir: dir, Resume: true, Options: search.Options{}})
	deadline := time.Now().Add(60 * time.Second)
	for len(final(t, dir)) < 12 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(15 * time.Millisecond) // somewhere inside the next trials
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	second := final(t, dir)
	t.Logf("killed by the clock: %d final trials", len(second))
	for i, r := range kept {
		if s, ok := second[i]; !ok || s.Arch != r.Arch || s.Reward != r.Reward || !slices.Equal(s.ValAcc, r.ValAcc) {
			t.Errorf("trial %d changed or lost by the second run: %+v, was %+v", i, s, r)
		}
	}
	cmd = startHelper(t, helperSpec{Dir: dir, Resume: true})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final resume: %v", err)
	}
	end := final(t, dir)
	if len(end) != 20 {
		t.Errorf("%d final trials, want 20", len(end))
	}
	for i, r := range second {
		if s, ok := end[i]; !ok || s.Arch != r.Arch || s.Reward != r.Reward || !slices.Equal(s.ValAcc, r.ValAcc) {
			t.Errorf("trial %d changed or lost by the final run: %+v, was %+v", i, s, r)
		}
	}
	done := 0
	for _, r := range end {
		if r.Status == search.Done {
			done++
		}
	}
	if done == 0 {
		t.Error("no trial trained")
	}
	if _, err := os.Stat(dir + "/" + search.BestFile); err != nil {
		t.Error(err)
	}
}

// rss is the process's resident set size in KiB (/proc/self/status).
func rss(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestMemoryFlat: 200 trials trained with ONNX Runtime keep the process's
// RSS flat: measured after trial 40 (warm) and after trial 200.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("200 real trials: run without -short")
	}
	co := search.ChildOptions{Dataset: "digits", Epochs: 1, Batch: 32, TrainSize: 128, ValSize: 64}
	ev := evaluator(t, co)
	o := search.Options{Strategy: search.StrategyRL, M: 8, Trials: 200, Schedule: search.Schedule{StartLayers: 3, LayerEvery: 1000}, Seed: 9, Child: co}
	var at40, at200 int64
	var curve, heap []int64
	trained := 0
	t0 := time.Now()
	hook := func(e search.Event) {
		if f, ok := e.(*search.TrialFinished); ok {
			if f.Record.Status == search.Done {
				trained++
			}
			if f.Done%20 == 0 {
				debug.FreeOSMemory()
				var ms goruntime.MemStats
				goruntime.ReadMemStats(&ms)
				curve = append(curve, rss(t))
				heap = append(heap, int64(ms.HeapAlloc>>10))
			}
			switch f.Done {
			case 40:
				at40 = curve[len(curve)-1]
			case 200:
				at200 = curve[len(curve)-1]
			}
		}
	}
	if _, err := search.Run(context.Background(), search.Config{Dir: t.TempDir(), Options: o, Evaluator: ev, Hook: hook}); err != nil {
		t.Fatal(err)
	}
	growth := at200 - at40
	t.Logf("RSS every 20 trials (KiB): %v", curve)
	t.Logf("Go heap every 20 trials (KiB): %v", heap)
	t.Logf("RSS after trial 40: %d KiB, after trial 200: %d KiB (growth %d KiB); %d trials trained in %.1fs", at40, at200, growth, trained, time.Since(t0).Seconds())
	if trained < 100 {
		t.Errorf("only %d of 200 trials trained", trained)
	}
	// Measured: the Go heap stays at 8.0 MiB; RSS climbs to a plateau
	// of 250–330 MiB by trial ~100 and wanders there (600 trials: no
	// trend). The climb is glibc's per-thread malloc arenas serving ORT
	// (with MALLOC_ARENA_MAX=1 it plateaus at ~170 MiB). A leak of one
	// model or session per trial (≥ 0.5 MiB each) would show in either.
	if hg := heap[len(heap)-1] - heap[1]; hg > 1024 {
		t.Errorf("Go heap grew by %d KiB over 160 trials", hg)
	}
	if at200 > at40*8/5 {
		t.Errorf("RSS grew from %d KiB to %d KiB over 160 trials", at40, at200)
	}
}
