package search

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The helper process: a test binary re-executed with NAS_SEARCH_HELPER set
// runs one search (new or resumed) with the fake evaluator and SIGKILLs
// itself at the event NAS_SEARCH_KILL names ("finished:K" after the K-th
// TrialFinished of this process, "started:K", "iteration:K" after the K-th
// IterationDone, "ran:K" after the K-th IterationDone of an iteration in
// which this process finished a trial), or runs to the end.
const helperEnv = "NAS_SEARCH_HELPER"

type helperSpec struct {
	Dir     string
	Resume  bool
	Options Options
	Kill    string
	SleepMS int // per evaluation
	// KillArch: the evaluator SIGKILLs the process when it is handed this
	// architecture (a child that exhausts memory, as the OOM killer ends it).
	KillArch string
	// AllocArch: the process runs under an address-space limit (RLIMIT_AS,
	// its size at start plus 256 MiB) and the evaluator allocates and
	// touches 1 GiB when it is handed this architecture: a child that
	// allocates past the limit, which the Go runtime dies of ("out of
	// memory", exit status 2).
	AllocArch string
	// ModelBytes: a Done trial's model is this long (0: the fake's).
	ModelBytes int
	// Isolated: the evaluator says its children train in other processes
	// (Isolated), so that no trial is blamed for the kills.
	Isolated bool
}

// isolatedEval is an Evaluator that is Isolated.
type isolatedEval struct{ EvaluatorFunc }

func (isolatedEval) Isolated() bool { return true }

func TestHelperProcess(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		return // not a helper: nothing to test here
	}
	var h helperSpec
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	kind, at, _ := strings.Cut(h.Kill, ":")
	k, _ := strconv.Atoi(at)
	counts := map[string]int{}
	finished := 0 // trials this process finished in the current iteration
	hook := func(e Event) {
		var name string
		switch e.(type) {
		case *TrialStarted:
			name = "started"
		case *TrialFinished:
			name = "finished"
			finished++
		case *IterationDone:
			name = "iteration"
			if finished > 0 {
				counts["ran"]++ // an iteration in which this process finished trials
				if kind == "ran" && counts["ran"] == k {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {}
				}
			}
			finished = 0
		default:
			return
		}
		counts[name]++
		if name == kind && counts[name] == k {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // wait for the signal
		}
	}
	if h.AllocArch != "" {
		limitAddressSpace(256 << 20)
	}
	fake := newFake()
	var hog [][]byte
	ev := EvaluatorFunc(func(ctx context.Context, t Trial) (Outcome, error) {
		if h.KillArch != "" && t.Arch == h.KillArch {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		if h.AllocArch != "" && t.Arch == h.AllocArch {
			for range 64 { // 1 GiB in 16 MiB pieces, every page touched
				b := make([]byte, 16<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				hog = append(hog, b)
			}
			fmt.Fprintln(os.Stderr, "allocated past the limit without dying")
			os.Exit(5)
		}
		time.Sleep(time.Duration(h.SleepMS) * time.Millisecond)
		out, err := fake.Evaluate(ctx, t)
		if h.ModelBytes > 0 && out.Model != nil {
			m := make([]byte, h.ModelBytes)
			copy(m, out.Model)
			out.Model = m
		}
		return out, err
	})
	var eval Evaluator = ev
	if h.Isolated {
		eval = isolatedEval{ev}
	}
	_, err := Run(context.Background(), Config{Dir: h.Dir, Resume: h.Resume, Options: h.Options, Evaluator: eval, Hook: hook})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	os.Exit(0)
}

// limitAddressSpace caps this process's address space at its current size
// plus extra bytes (RLIMIT_AS), so that an allocation past it fails.
func limitAddressSpace(extra uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var kb uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmSize:"); ok {
			kb, _ = strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	lim := &syscall.Rlimit{Cur: kb<<10 + extra, Max: kb<<10 + extra}
	if kb == 0 || syscall.Setrlimit(syscall.RLIMIT_AS, lim) != nil {
		fmt.Fprintln(os.Stderr, "cannot limit the address space")
		os.Exit(3)
	}
}

// helper starts the helper process; it returns the command, started.
func helper(t *testing.T, h helperSpec) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	if h.AllocArch != "" {
		cmd.Stderr = new(bytes.Buffer) // the runtime's death and its goroutine dump, checked by the test
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func wantKilled(t *testing.T, cmd *exec.Cmd, what string) {
	t.Helper()
	err := cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: helper ended with %v, want killed by SIGKILL", what, err)
	}
}

// TestResumeAfterSIGKILL: a search SIGKILLed at several points (a trial
// committed, a trial started with its row "running", an iteration ended
// after the controller checkpoint, the last trial of an iteration committed
// before the update) and resumed each time ends with exactly the trials and
// controller weights of a search never interrupted. No trial is running at
// two of the kills (each kill in a trial is followed by one at the end of
// an iteration, which the resumed trials finish before): a trial running
// at two is recorded failed (TestKilledTwice).
func TestResumeAfterSIGKILL(t *testing.T) {
	for _, strategy := range []string{StrategyRL, StrategyEvolution} {
		t.Run(strategy, func(t *testing.T) {
			o := testOptions(strategy, 30)
			o.Parallel = 2
			o.Population = 8
			o.StartLayers = 1 // duplicates too
			o.Controller.LR = 0.01
			o.Child.Epochs = 2 // the fake's two epochs, with early stopping
			o.EarlyStop = EarlyStop{On: true, MinTrials: 3}
			ref := t.TempDir()
			cmd := helper(t, helperSpec{Dir: ref, Options: o, SleepMS: 1})
			if err := cmd.Wait(); err != nil {
				t.Fatalf("uninterrupted helper: %v", err)
			}
			dir := t.TempDir()
			kills := []string{"finished:5", "ran:1", "started:3", "ran:1", "iteration:1", "finished:4", "ran:1", "started:1", "ran:1"}
			for k, kill := range kills {
				cmd := helper(t, helperSpec{Dir: dir, Resume: k > 0, Options: o, Kill: kill, SleepMS: 1})
				wantKilled(t, cmd, kill)
				_, recs, err := ReadRun(dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("after kill at %s: %d rows", kill, len(recs))
			}
			// One kill at a time chosen by the clock, not by an event.
			cmd = helper(t, helperSpec{Dir: dir, Resume: true, Options: o, SleepMS: 5})
			time.Sleep(40 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			cmd = helper(t, helperSpec{Dir: dir, Resume: true, SleepMS: 1})
			if err := cmd.Wait(); err != nil {
				t.Fatalf("final resume: %v", err)
			}
			compareRuns(t, ref, dir)
		})
	}
}
