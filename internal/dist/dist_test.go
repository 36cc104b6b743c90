package dist

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nas-project/nas/search"
)

// TestTrialThroughWorker: a trial crosses to a worker process and its
// outcome, model included, comes back with the worker's name.
func TestTrialThroughWorker(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{})
	startWorker(t, s.URL(), "tok", "w1")
	tr := trial(3)
	r := <-evaluate(ev, tr)
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := fakeOutcome(tr)
	if r.out.Status != search.Done || r.out.Reward != want.Reward || r.out.Model != nil || r.out.FetchModel == nil || r.out.Worker != "w1" {
		t.Fatalf("outcome %+v, want %+v from w1, its model kept by the worker", r.out, want)
	}
	model, err := r.out.FetchModel(context.Background())
	if err != nil || string(model) != string(want.Model) {
		t.Errorf("the model asked of the worker: %q, %v; want %q", model, err, want.Model)
	}
	if st := ev.Stats(); st.Results != 1 || st.Duplicates != 0 || st.ModelsFetched != 1 || st.ModelsRetrained != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestKillWorkerMidTrial: a worker killed (SIGKILL) or frozen (SIGSTOP:
// a hung process, or its machine cut off) while it trains: its heartbeats
// stop, the trial is redelivered after AckWait, completes on another
// worker, and exactly one result is counted.
func TestKillWorkerMidTrial(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		t.Run(sig.String(), func(t *testing.T) { killWorkerMidTrial(t, sig) })
	}
}

func killWorkerMidTrial(t *testing.T, sig syscall.Signal) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{AckWait: time.Second})
	a := startWorker(t, s.URL(), "tok", "a", "NAS_SLEEP=30s")
	res := evaluate(ev, trial(0))
	a.waitLine(t, "start 0")
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if sig == syscall.SIGKILL {
		a.exited(t)
	}
	t0 := time.Now()
	b := startWorker(t, s.URL(), "tok", "b", "NAS_SLEEP=100ms")
	b.waitLine(t, "start 0")
	r := <-res
	if r.err != nil || r.out.Worker != "b" || r.out.Status != search.Done {
		t.Fatalf("outcome %+v, %v: want done by b", r.out, r.err)
	}
	t.Logf("redelivered and done %.2fs after the kill", time.Since(t0).Seconds())
	time.Sleep(500 * time.Millisecond) // a late duplicate would arrive now
	if st := ev.Stats(); st.Results != 1 || st.Duplicates != 0 || st.Exhausted != 0 {
		t.Errorf("stats %+v, want exactly one result", st)
	}
}

// TestHeartbeat: a trial longer than AckWait is not redelivered while its
// worker reports it in progress.
func TestHeartbeat(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{AckWait: time.Second})
	a := startWorker(t, s.URL(), "tok", "a", "NAS_SLEEP=3s")
	b := startWorker(t, s.URL(), "tok", "b", "NAS_SLEEP=3s")
	r := <-evaluate(ev, trial(1))
	if r.err != nil || r.out.Status != search.Done {
		t.Fatalf("%+v, %v", r.out, r.err)
	}
	other := map[string]*proc{"a": b, "b": a}[r.out.Worker]
	for done := false; !done; {
		select {
		case l := <-other.lines:
			if strings.HasPrefix(l, "start ") {
				t.Errorf("the other worker got %q: the trial was redelivered despite the heartbeat", l)
			}
		default:
			done = true
		}
	}
	if st := ev.Stats(); st.Results != 1 || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestMaxDeliverThroughSearch: a search of 4 trials through two
// supervised worker processes, one trial of which kills its worker every
// time: the workers are restarted, that trial is recorded failed after
// MaxDeliver deliveries (the advisory), the others done, and the
// iteration completes.
func TestMaxDeliverThroughSearch(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{AckWait: time.Second, MaxDeliver: 2})
	ctx, cancel := context.WithCancel(context.Background())
	sup := &Supervisor{N: 2, Logger: testLogger(t), Command: func(i int) *exec.Cmd {
		return workerCmd(s.URL(), "tok", "w"+string(rune('0'+i)), "NAS_DIE=2", "NAS_SLEEP=50ms")
	}}
	sup.Start(ctx)
	defer func() { cancel(); sup.Wait() }()
	dir := t.TempDir()
	o := search.Options{Strategy: search.StrategyRandom, Space: "v1", M: 4, Trials: 4, Parallel: 4, Schedule: search.Schedule{StartLayers: 2}, Seed: 7, MaxFailures: -1}
	sum, err := search.Run(context.Background(), search.Config{Dir: dir, Options: o, Evaluator: ev, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Trials != 4 || len(recs) != 4 {
		t.Fatalf("%d trials (%d rows), want 4", sum.Trials, len(recs))
	}
	for _, r := range recs {
		switch {
		case r.Index == 2 && (r.Status != search.Failed || !strings.Contains(r.Error, "delivered to workers 2 times without a result")):
			t.Errorf("trial 2: %s %q, want failed after 2 deliveries", r.Status, r.Error)
		case r.Index != 2 && r.Status != search.Done && r.Status != search.Duplicate:
			t.Errorf("trial %d: %s %q", r.Index, r.Status, r.Error)
		case r.Index != 2 && r.Status == search.Done && !strings.HasPrefix(r.Worker, "w"):
			t.Errorf("trial %d: worker %q", r.Index, r.Worker)
		}
	}
	if n := sup.Restarts(); n < 2 {
		t.Errorf("%d restarts, want at least 2 (the worker killed at each delivery)", n)
	}
	if st := ev.Stats(); st.Exhausted != 1 {
		t.Errorf("stats %+v, want 1 exhausted", st)
	}
}

// TestCredentialsRefused: a worker with a wrong token, or none, is refused
// by the server; with the right one it connects.
func TestCredentialsRefused(t *testing.T) {
	s := testServer(t, "right")
	for _, tok := range []string{"wrong", ""} {
		p := startWorker(t, s.URL(), tok, "intruder")
		err := p.exited(t)
		if err == nil || !strings.Contains(strings.ToLower(p.Stderr()), "authorization violation") {
			t.Errorf("token %q: exit %v, stderr %q; want refused (authorization violation)", tok, err, p.Stderr())
		}
	}
	if _, err := Connect(ClientOptions{URL: s.URL(), Token: "right"}); err != nil {
		t.Errorf("the right token: %v", err)
	}
	if err := (ServerOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir()}).Validate(); err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Errorf("a server off loopback without a token: %v", err)
	}
}

// TestMalformedMessage: messages that are not trials are refused with a
// clear log line; the worker lives on and trains the next trial, and the
// search learns of a refusal of its own trial through the advisory.
func TestMalformedMessage(t *testing.T) {
	s := testServer(t, "tok")
	nc := connect(t, s, "tok")
	ev := testEvaluator(t, nc, Config{})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, s.URL(), "tok", "w", "NAS_SLEEP=10ms")
	ctx := context.Background()
	v := fmt.Sprint(messageVersion)
	for _, bad := range []string{"not json", `{"v":` + v + `,"run":"test","trial":{"Index":-4,"Arch":"kh3"}}`, `{"v":9}`,
		`{"v":` + v + `,"run":"test","trial":{"Index":1}}`, `{"v":` + v + `,"run":"test","trial":{"Index":1,"Arch":"x"},"extra":1}`,
		`{"v":` + v + `,"run":"test","trial":{"Index":1,"Arch":"x"},"time_limit":-1}`} {
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: trialPrefix + "test", Data: []byte(bad)}); err != nil {
			t.Fatal(err)
		}
	}
	// Larger than the limit: the stream refuses it at publication.
	if _, err := js.Publish(ctx, trialPrefix+"test", make([]byte, MaxMessageBytes+1)); err == nil {
		t.Error("an oversized trial message was accepted")
	}
	r := <-evaluate(ev, trial(5))
	if r.err != nil || r.out.Status != search.Done || r.out.Worker != "w" {
		t.Fatalf("after the malformed messages: %+v, %v", r.out, r.err)
	}
	log := w.Stderr()
	for _, want := range []string{"rejected a trial message", "invalid character", "trial -4 of iteration 0", "version 9", "has no architecture", `unknown field \"extra\"`, "time limit -1ns"} {
		if !strings.Contains(log, want) {
			t.Errorf("worker log lacks %q:\n%s", want, log)
		}
	}
	// A trial of the search's that no worker can read (options out of
	// range) is refused, and the search records why.
	bad := trial(6)
	bad.Child.Epochs = -1
	r = <-evaluate(ev, bad)
	if r.err != nil || r.out.Status != search.Failed || !strings.Contains(r.out.Reason, "refused by a worker") {
		t.Errorf("a trial the worker refuses: %+v, %v", r.out, r.err)
	}
}

// TestDuplicateResults: results are de-duplicated by trial key: the first
// wins, a later one (a redelivered trial trained twice, a late ack) is
// ignored and counted, as is one for no trial in flight.
func TestDuplicateResults(t *testing.T) {
	s := testServer(t, "tok")
	nc := connect(t, s, "tok")
	ev := testEvaluator(t, nc, Config{})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cons, err := js.Consumer(ctx, TrialStream, Consumer)
	if err != nil {
		t.Fatal(err)
	}
	tr := trial(2)
	res := evaluate(ev, tr)
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeTrial(msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	publish := func(reward float64, name, id string) {
		r := ResultMsg{Version: messageVersion, RunID: m.RunID, Index: m.Trial.Index, Arch: m.Trial.Arch, Seed: m.Trial.Seed,
			Trial: m.Sum(), Worker: name, Outcome: Outcome{Status: "done", Reward: reward}}
		w := &worker{js: js, cfg: WorkerConfig{Logger: testLogger(t)}}
		if err := w.publish(r, id); err != nil {
			t.Fatal(err)
		}
	}
	publish(0.25, "first", "id-1")
	got := <-res
	if got.err != nil || got.out.Reward != 0.25 || got.out.Worker != "first" {
		t.Fatalf("%+v, %v: want the first result", got.out, got.err)
	}
	publish(0.75, "second", "id-2") // another message id: JetStream keeps it, the key does not
	publish(0.75, "second", "id-2") // the same id: JetStream drops it
	waitStats(t, ev, func(st Stats) bool { return st.Duplicates >= 1 })
	// For trial 2 evaluated again (a retry), a result of another trial at
	// that index (another run of the directory) is stale.
	res = evaluate(ev, tr)
	if msg, err = cons.Next(jetstream.FetchMaxWait(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	stale := ResultMsg{Version: messageVersion, RunID: "test", Index: 2, Arch: tr.Arch, Seed: tr.Seed, Trial: "another trial", Worker: "x", Outcome: Outcome{Status: "done"}}
	w := &worker{js: js, cfg: WorkerConfig{Logger: testLogger(t)}}
	if err := w.publish(stale, "id-3"); err != nil {
		t.Fatal(err)
	}
	waitStats(t, ev, func(st Stats) bool { return st.Duplicates+st.Stale >= 2 })
	if st := ev.Stats(); st.Results != 1 || st.Duplicates != 1 || st.Stale != 1 {
		t.Errorf("stats %+v, want 1 result, 1 duplicate, 1 stale", st)
	}
	publish(0.5, "third", "id-4")
	if got := <-res; got.err != nil || got.out.Reward != 0.5 {
		t.Errorf("the retry: %+v, %v", got.out, got.err)
	}
	_ = msg.Ack()
	// A trial given up (its context cancelled) is deleted from the queue:
	// the server's advisory of that is no worker's refusal.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := ev.Evaluate(cctx, trial(7)); err == nil {
		t.Error("a cancelled evaluation returned no error")
	}
	time.Sleep(300 * time.Millisecond)
	if st := ev.Stats(); st.Rejected != 0 {
		t.Errorf("stats %+v: a deletion counted as a refusal", st)
	}
}

// TestSearchThroughWorkers: a search through two worker processes records
// exactly the trials of the same search in process (the evaluator is
// deterministic given the trial, and the table is keyed by index).
func TestSearchThroughWorkers(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{})
	startWorker(t, s.URL(), "tok", "a", "NAS_SLEEP=5ms")
	startWorker(t, s.URL(), "tok", "b", "NAS_SLEEP=5ms")
	o := search.Options{Strategy: search.StrategyRL, Space: "v1", M: 4, Trials: 12, Parallel: 4, Schedule: search.Schedule{StartLayers: 2}, Seed: 3}
	local, remote := t.TempDir(), t.TempDir()
	if _, err := search.Run(context.Background(), search.Config{Dir: local, Options: o, Evaluator: fakeEvaluator}); err != nil {
		t.Fatal(err)
	}
	if _, err := search.Run(context.Background(), search.Config{Dir: remote, Options: o, Evaluator: ev}); err != nil {
		t.Fatal(err)
	}
	_, want, _ := search.ReadRun(local)
	_, got, _ := search.ReadRun(remote)
	if len(got) != len(want) {
		t.Fatalf("%d trials, want %d", len(got), len(want))
	}
	workers := map[string]int{}
	for i := range want {
		a, b := want[i], got[i]
		if a.Arch != b.Arch || a.Status != b.Status || a.Reward != b.Reward || a.Seed != b.Seed || a.DupOf != b.DupOf {
			t.Errorf("trial %d: %s %s %v, in process %s %s %v", i, b.Arch, b.Status, b.Reward, a.Arch, a.Status, a.Reward)
		}
		workers[b.Worker]++
	}
	t.Logf("trials per worker: %v", workers)
}

// TestSearchInFlightThroughWorkers: a search with three iterations in
// flight (search.Options.InFlight) hands the evaluator concurrent Evaluate
// calls of several iterations, and records exactly the trials of the same
// search in process.
func TestSearchInFlightThroughWorkers(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{})
	for _, name := range []string{"a", "b", "c"} {
		startWorker(t, s.URL(), "tok", name, "NAS_SLEEP=5ms")
	}
	o := search.Options{Strategy: search.StrategyRL, Space: "v1", M: 4, Trials: 24, InFlight: 3, Parallel: 12, Schedule: search.Schedule{StartLayers: 2}, Seed: 3}
	local, remote := t.TempDir(), t.TempDir()
	if _, err := search.Run(context.Background(), search.Config{Dir: local, Options: o, Evaluator: fakeEvaluator}); err != nil {
		t.Fatal(err)
	}
	running := map[int]int{} // iteration -> trials in the evaluator
	started := map[int]bool{}
	most := 0
	hook := func(e search.Event) {
		switch e := e.(type) {
		case *search.TrialStarted:
			running[e.Trial.Iteration]++
			started[e.Trial.Index] = true
		case *search.TrialFinished:
			if !started[e.Record.Index] {
				break // a duplicate: never in the evaluator
			}
			if running[e.Record.Iteration]--; running[e.Record.Iteration] == 0 {
				delete(running, e.Record.Iteration)
			}
		}
		most = max(most, len(running))
	}
	if _, err := search.Run(context.Background(), search.Config{Dir: remote, Options: o, Evaluator: ev, Hook: hook}); err != nil {
		t.Fatal(err)
	}
	if most < 3 {
		t.Errorf("at most %d iterations had trials in the evaluator at once, want 3", most)
	}
	_, want, _ := search.ReadRun(local)
	_, got, _ := search.ReadRun(remote)
	if len(got) != len(want) {
		t.Fatalf("%d trials, want %d", len(got), len(want))
	}
	for i := range want {
		a, b := want[i], got[i]
		if a.Arch != b.Arch || a.Status != b.Status || a.Reward != b.Reward || a.Seed != b.Seed || a.DupOf != b.DupOf {
			t.Errorf("trial %d: %s %s %v, in process %s %s %v", i, b.Arch, b.Status, b.Reward, a.Arch, a.Status, a.Reward)
		}
	}
	if st := ev.Stats(); st.Results == 0 {
		t.Errorf("stats %+v: no result through the workers", st)
	}
}

// TestWorkerStopGivesBack: a worker stopped by SIGINT (Ctrl-C) mid-trial
// exits cleanly and the trial goes back to the queue at once (Nak), long
// before AckWait, for another worker.
func TestWorkerStopGivesBack(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{AckWait: time.Minute})
	a := startWorker(t, s.URL(), "tok", "a", "NAS_SLEEP=1m")
	res := evaluate(ev, trial(4))
	a.waitLine(t, "start 4")
	if err := a.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := a.exited(t); err != nil {
		t.Errorf("worker stopped by SIGINT: %v; stderr:\n%s", err, a.Stderr())
	}
	t0 := time.Now()
	startWorker(t, s.URL(), "tok", "b", "NAS_SLEEP=10ms")
	r := <-res
	if r.err != nil || r.out.Worker != "b" {
		t.Fatalf("%+v, %v: want done by b", r.out, r.err)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Errorf("redelivered after %v: the trial was not given back", d)
	}
	if !strings.Contains(a.Stderr(), "trial back to the queue") {
		t.Errorf("worker a's log lacks the give-back:\n%s", a.Stderr())
	}
}

// TestTrialTimeLimit: a search of 4 trials through two supervised
// workers with a per-trial time limit of 1s: trial 1 runs past it and its
// evaluator stops at the deadline (failed, the limit's reason); trial 2's
// evaluator hangs, deaf to its context: the worker reports it failed
// StopGrace later and exits, and is restarted. The others are done and
// the iteration completes.
func TestTrialTimeLimit(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{AckWait: 5 * time.Second, TrialTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	sup := &Supervisor{N: 2, Logger: testLogger(t), Command: func(i int) *exec.Cmd {
		return workerCmd(s.URL(), "tok", "w"+string(rune('0'+i)), "NAS_SLOW=1", "NAS_HANG=2", "NAS_GRACE=500ms", "NAS_SLEEP=50ms")
	}}
	sup.Start(ctx)
	defer func() { cancel(); sup.Wait() }()
	dir := t.TempDir()
	o := search.Options{Strategy: search.StrategyRandom, Space: "v1", M: 4, Trials: 4, Parallel: 4, Schedule: search.Schedule{StartLayers: 2}, Seed: 7, MaxFailures: -1}
	t0 := time.Now()
	if _, err := search.Run(context.Background(), search.Config{Dir: dir, Options: o, Evaluator: ev, Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("search done in %.1fs", time.Since(t0).Seconds())
	_, recs, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d trials, want 4", len(recs))
	}
	for _, r := range recs {
		var want string
		switch r.Index {
		case 1:
			want = "exceeded the per-trial time limit of 1s on worker w"
		case 2:
			want = "did not stop within 500ms"
		}
		switch {
		case want != "" && (r.Status != search.Failed || !strings.Contains(r.Error, want)):
			t.Errorf("trial %d: %s %q, want failed: %q", r.Index, r.Status, r.Error, want)
		case want == "" && r.Status != search.Done:
			t.Errorf("trial %d: %s %q, want done", r.Index, r.Status, r.Error)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); sup.Restarts() < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := sup.Restarts(); n < 1 {
		t.Errorf("%d restarts: the worker whose trial hung did not exit", n)
	}
	if st := ev.Stats(); st.Exhausted != 0 || st.Results != 4 {
		t.Errorf("stats %+v, want 4 results and nothing exhausted", st)
	}
}

// TestModelFetch: a Done trial's model stays with its worker until the
// search asks for it. Asked of a worker that keeps it, the model comes
// from there; of one that is gone (killed) or no longer keeps it (it
// keeps one model, and trained another since), the trial is trained
// again by another worker, which ships the model; if that training gives
// another outcome, the model is unavailable.
func TestModelFetch(t *testing.T) {
	s := testServer(t, "tok")
	ev := testEvaluator(t, connect(t, s, "tok"), Config{})
	a := startWorker(t, s.URL(), "tok", "a", "NAS_KEEP=1")
	r0 := <-evaluate(ev, trial(0))
	r1 := <-evaluate(ev, trial(1)) // a keeps only trial 1's model now
	if r0.err != nil || r1.err != nil || r0.out.FetchModel == nil || r1.out.FetchModel == nil {
		t.Fatalf("%+v %v, %+v %v", r0.out, r0.err, r1.out, r1.err)
	}
	ctx := context.Background()
	if m, err := r1.out.FetchModel(ctx); err != nil || string(m) != string(fakeOutcome(trial(1)).Model) {
		t.Errorf("kept by a: %q, %v", m, err)
	}
	b := startWorker(t, s.URL(), "tok", "b")
	if m, err := r0.out.FetchModel(ctx); err != nil || string(m) != string(fakeOutcome(trial(0)).Model) {
		t.Errorf("no longer kept by a: %q, %v", m, err)
	}
	r2 := <-evaluate(ev, trial(2))
	if r2.err != nil || r2.out.FetchModel == nil {
		t.Fatalf("%+v %v", r2.out, r2.err)
	}
	gone := map[string]*proc{"a": a, "b": b}[r2.out.Worker]
	if err := gone.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone.exited(t)
	var c *proc
	if gone == a {
		c = startWorker(t, s.URL(), "tok", "c")
	}
	if m, err := r2.out.FetchModel(ctx); err != nil || string(m) != string(fakeOutcome(trial(2)).Model) {
		t.Errorf("its worker killed: %q, %v", m, err)
	}
	if st := ev.Stats(); st.ModelsFetched != 1 || st.ModelsRetrained != 2 || st.ModelsUnavailable != 0 {
		t.Errorf("stats %+v: want 1 model fetched, 2 retrained", st)
	}
	// Training that is not deterministic: the model trained again is not
	// the trial's.
	for _, p := range []*proc{a, b, c} {
		if p != nil {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			p.exited(t)
		}
	}
	ev2 := testEvaluator(t, connect(t, s, "tok"), Config{RunID: "skew"})
	d := startWorker(t, s.URL(), "tok", "d")
	r3 := <-evaluate(ev2, trial(3))
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	d.exited(t)
	startWorker(t, s.URL(), "tok", "e", "NAS_SKEW=1")
	if m, err := r3.out.FetchModel(ctx); err == nil || !strings.Contains(err.Error(), "its model is unavailable: trained again it gave done, reward") {
		t.Errorf("retrained to another reward: %q, %v; want unavailable", m, err)
	}
	if st := ev2.Stats(); st.ModelsUnavailable != 1 {
		t.Errorf("stats %+v: want 1 model unavailable", st)
	}
}
