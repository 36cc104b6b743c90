package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nas-project/nas/search"
)

// TestKillSearchResume: the search process is killed (SIGKILL) while
// workers hold trials of its second iteration; the workers finish them
// and the queued ones while it is down. A resumed search takes those
// results without training them again, purges what is left in the queue
// and drops results of trials its store already has (an injected trial
// message and result stand for both), and ends with exactly the trials
// of a search never interrupted: each trained once, none lost, none
// counted twice; the best model is the best trial's, and nothing is left
// in the streams.
func TestKillSearchResume(t *testing.T) {
	s := testServer(t, "tok")
	nc := connect(t, s, "tok")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const run = "resume"
	dir := t.TempDir()
	workers := []*proc{
		startWorker(t, s.URL(), "tok", "a", "NAS_SLEEP=300ms"),
		startWorker(t, s.URL(), "tok", "b", "NAS_SLEEP=300ms"),
	}
	s1 := startProc(t, searchCmd(s.URL(), "tok", dir, run, false))
	s1.waitLine(t, "done 6") // two trials of the second iteration: the other two are running (two workers)
	if err := s1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s1.exited(t)
	_, recs, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, r := range recs {
		if r.Status == search.Running {
			running++
		}
	}
	if running == 0 {
		t.Fatalf("no trial running when the search was killed: %d rows", len(recs))
	}
	t.Logf("killed with %d trials recorded, %d of them running", len(recs), running)

	// The workers drain the queue while the search is down, then stop.
	ctx := context.Background()
	cons, err := js.Consumer(ctx, TrialStream, Consumer)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers did not drain the queue: %+v", ci)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range workers {
		if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatalf("worker: %v, %v; stderr:\n%s", err, w.exited(t), w.Stderr())
		}
		w.exited(t)
	}
	// Leftovers for trials the store has: a trial message (trial 0) and a
	// result (trial 1).
	tm, _ := json.Marshal(TrialMsg{Version: messageVersion, RunID: run, Trial: search.Trial{Index: 0, Arch: recs[0].Arch, Seed: recs[0].Seed}})
	if _, err := js.Publish(ctx, trialPrefix+run, tm); err != nil {
		t.Fatal(err)
	}
	rm, _ := json.Marshal(ResultMsg{Version: messageVersion, RunID: run, Index: 1, Arch: recs[1].Arch, Seed: recs[1].Seed, Trial: "late", Worker: "late",
		Outcome: Outcome{Status: "done", Reward: 0.99}})
	if _, err := js.Publish(ctx, resultPrefix+run, rm); err != nil {
		t.Fatal(err)
	}

	s2 := startProc(t, searchCmd(s.URL(), "tok", dir, run, true))
	s2.waitLine(t, "ready") // reconciled before workers come
	workers = append(workers, startWorker(t, s.URL(), "tok", "c", "NAS_SLEEP=50ms"), startWorker(t, s.URL(), "tok", "d", "NAS_SLEEP=50ms"))
	if err := s2.exited(t); err != nil {
		t.Fatalf("resumed search: %v\n%s", err, s2.Stderr())
	}
	var st Stats
	for _, l := range s2.rest(t) {
		if b, ok := strings.CutPrefix(l, "stats "); ok {
			if err := json.Unmarshal([]byte(b), &st); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("resumed search: %+v", st)
	if st.Recovered < running || st.Purged < 1 || st.Duplicates < 1 {
		t.Errorf("stats %+v: want at least %d recovered results, 1 purged trial message, 1 duplicate dropped", st, running)
	}

	got := checkResumed(t, js, dir, run)
	// Each trained once (a retraining for the best model apart).
	for _, w := range workers[2:] {
		_ = w.cmd.Process.Signal(syscall.SIGINT)
		w.exited(t)
	}
	starts := map[string]int{}
	for _, w := range workers {
		for _, l := range w.rest(t) {
			starts[l]++
		}
	}
	for _, r := range got {
		n, want := starts[fmt.Sprintf("start %d", r.Index)], 1
		if r.Status == search.Duplicate {
			want = 0
		}
		if n != want {
			t.Errorf("trial %d (%s) trained %d times, want %d", r.Index, r.Status, n, want)
		}
	}
	t.Logf("worker lines: %v", starts)
}

// checkResumed checks a run resumed after a kill: the same trials as a
// search never interrupted, the best model the best trial's, nothing of
// the run left in the streams. It returns the trials.
func checkResumed(t *testing.T, js jetstream.JetStream, dir, run string) []search.Record {
	t.Helper()
	ctx := context.Background()
	// The same trials as a search never interrupted.
	local := t.TempDir()
	if _, err := search.Run(ctx, search.Config{Dir: local, Options: searchOptions, Evaluator: fakeEvaluator}); err != nil {
		t.Fatal(err)
	}
	_, want, _ := search.ReadRun(local)
	_, got, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d trials, want %d", len(got), len(want))
	}
	for i := range want {
		a, b := want[i], got[i]
		if a.Arch != b.Arch || a.Status != b.Status || a.Reward != b.Reward || a.Seed != b.Seed || a.DupOf != b.DupOf {
			t.Errorf("trial %d: %s %s %v, uninterrupted %s %s %v", i, b.Arch, b.Status, b.Reward, a.Arch, a.Status, a.Reward)
		}
	}
	// The best model is the best trial's.
	best := -1
	for i, r := range got {
		if r.Status == search.Done && (best < 0 || r.Reward > got[best].Reward) {
			best = i
		}
	}
	model, err := os.ReadFile(filepath.Join(dir, search.BestFile))
	if want := fakeOutcome(search.Trial{Arch: got[best].Arch}).Model; err != nil || string(model) != string(want) {
		t.Errorf("best.onnx %q, %v; want %q (trial %d)", model, err, want, best)
	}
	// Nothing of the run is left in the streams.
	for _, sc := range []struct{ stream, subject string }{{TrialStream, trialPrefix + run}, {ResultStream, resultPrefix + run}} {
		str, err := js.Stream(ctx, sc.stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := str.Info(ctx, jetstream.WithSubjectFilter(sc.subject))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[sc.subject]; n != 0 {
			t.Errorf("%d messages left on %s", n, sc.subject)
		}
	}
	return got
}

// TestKillSearchResumeEmbedded: as nas search --workers 2 does it, the
// search process runs the server (its store in a directory that outlives
// it) and supervises two workers. Killed (SIGKILL) mid-iteration, it
// takes its workers with it (none is left orphaned), and the resumed
// search, on the same store, purges the trials the dead workers held,
// queues them again, and ends with exactly the trials of a search never
// interrupted.
func TestKillSearchResumeEmbedded(t *testing.T) {
	const run = "embedded"
	dir, store := t.TempDir(), t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := func(resume bool) *exec.Cmd {
		c := searchCmd("", "tok", dir, run, resume)
		c.Env = append(c.Env, "NAS_STORE="+store, "NAS_LISTEN="+addr, "NAS_SUPERVISE=2")
		return c
	}
	s1 := startProc(t, cmd(false))
	s1.waitLine(t, "done 6") // two trials of the second iteration: the other two are running (two workers)
	if err := s1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, l := range s1.seen { // the workers start before the sixth trial ends
		if l == "" {
			continue
		}
		var name string
		var pid int
		if n, _ := fmt.Sscanf(l, "worker %s pid %d", &name, &pid); n == 2 {
			pids = append(pids, pid)
		}
	}
	if len(pids) < 2 {
		t.Fatalf("worker pids %v: want 2", pids)
	}
	for _, pid := range pids {
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				for _, p := range pids {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				t.Fatalf("worker %d still alive 10s after its search was killed", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	s1.exited(t)
	_, recs, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, r := range recs {
		if r.Status == search.Running {
			running++
		}
	}
	if running == 0 {
		t.Fatalf("no trial running when the search was killed: %d rows", len(recs))
	}
	s2 := startProc(t, cmd(true))
	if err := s2.exited(t); err != nil {
		t.Fatalf("resumed search: %v\n%s", err, s2.Stderr())
	}
	var st Stats
	for _, l := range s2.rest(t) {
		if b, ok := strings.CutPrefix(l, "stats "); ok {
			if err := json.Unmarshal([]byte(b), &st); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("killed with %d trials recorded, %d running; resumed: %+v", len(recs), running, st)
	if st.Purged < 1 {
		t.Errorf("stats %+v: want the dead process's trial messages purged", st)
	}
	// The store as the resumed search left it.
	s, err := StartServer(ServerOptions{Token: "tok", StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	js, err := jetstream.New(connect(t, s, "tok"))
	if err != nil {
		t.Fatal(err)
	}
	checkResumed(t, js, dir, run)
}

// alive says whether process pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}
