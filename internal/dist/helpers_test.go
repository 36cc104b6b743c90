package dist

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nas-project/nas/search"
)

// TestMain lets the test binary act as a worker process with a fake
// evaluator (NAS_DIST_WORKER=1): the fault tests start it as a subprocess.
func TestMain(m *testing.M) {
	if os.Getenv("NAS_DIST_WORKER") == "1" {
		os.Exit(fakeWorkerMain())
	}
	if os.Getenv("NAS_DIST_SEARCH") == "1" {
		os.Exit(fakeSearchMain())
	}
	os.Exit(m.Run())
}

// fakeWorkerMain is a worker process: $NAS_URL, $NAS_TOKEN, $NAS_NAME (and
// TLS: $NAS_CA, $NAS_CERT, $NAS_KEY); the
// fake trains for $NAS_SLEEP and exits (status 3) on the trial numbered
// $NAS_DIE, as a child that kills its worker would; on trial $NAS_SLOW it
// trains for a minute (until its context ends), on trial $NAS_HANG forever
// (deaf to its context, as a call stuck in C). $NAS_GRACE is its
// StopGrace, $NAS_KEEP its KeepModels; with $NAS_SKEW its rewards are
// off by 0.001 (training that is not deterministic). It prints "start INDEX" when a trial starts ("start INDEX
// ship" when asked to ship the model), and logs to stderr.
func fakeWorkerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	nc, err := Connect(ClientOptions{URL: os.Getenv("NAS_URL"), Token: os.Getenv("NAS_TOKEN"), Name: os.Getenv("NAS_NAME"),
		CA: os.Getenv("NAS_CA"), Cert: os.Getenv("NAS_CERT"), Key: os.Getenv("NAS_KEY")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer nc.Close()
	sleep, _ := time.ParseDuration(os.Getenv("NAS_SLEEP"))
	index := func(name string) int {
		if s := os.Getenv(name); s != "" {
			i, _ := strconv.Atoi(s)
			return i
		}
		return -1
	}
	die, slow, hang := index("NAS_DIE"), index("NAS_SLOW"), index("NAS_HANG")
	grace, _ := time.ParseDuration(os.Getenv("NAS_GRACE"))
	skew := os.Getenv("NAS_SKEW")
	keep, _ := strconv.Atoi(os.Getenv("NAS_KEEP"))
	evaluatorFor := func(m TrialMsg) (search.Evaluator, error) {
		return search.EvaluatorFunc(func(ctx context.Context, t search.Trial) (search.Outcome, error) {
			if m.ShipModel {
				fmt.Printf("start %d ship\n", t.Index)
			} else {
				fmt.Printf("start %d\n", t.Index)
			}
			d := sleep
			switch t.Index {
			case die:
				os.Exit(3)
			case hang:
				select {}
			case slow:
				d = time.Minute
			}
			select {
			case <-ctx.Done():
				return search.Outcome{}, ctx.Err()
			case <-time.After(d):
			}
			out := fakeOutcome(t)
			if skew != "" {
				out.Reward += 0.001 // not deterministic after all
			}
			return out, nil
		}), nil
	}
	fmt.Printf("worker %s pid %d\n", os.Getenv("NAS_NAME"), os.Getpid())
	err = RunWorker(ctx, WorkerConfig{Conn: nc, Name: os.Getenv("NAS_NAME"), Logger: log, StopGrace: grace, KeepModels: keep, Evaluator: evaluatorFor})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// searchOptions are the options of the searches of the tests.
var searchOptions = search.Options{Strategy: search.StrategyRL, Space: "v1", M: 4, Trials: 12, Parallel: 4, Schedule: search.Schedule{StartLayers: 2}, Seed: 3}

// fakeSearchMain is a search process (searchOptions) through workers:
// $NAS_URL, $NAS_TOKEN, the run directory $NAS_DIR (resumed when
// $NAS_RESUME=1), the run id $NAS_RUN; with $NAS_STORE, through a server
// of its own (StoreDir $NAS_STORE, listening on $NAS_LISTEN), with
// $NAS_SUPERVISE supervised workers (NAS_SLEEP=300ms). It prints "ready" once its
// evaluator is made (the queue purged), "committed INDEX" and "done N"
// (N trials final in the run) as it
// records each trial and, at its end, "stats " and the evaluator's Stats
// as JSON.
func fakeSearchMain() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	url, token := os.Getenv("NAS_URL"), os.Getenv("NAS_TOKEN")
	if store := os.Getenv("NAS_STORE"); store != "" {
		srv, err := StartServer(ServerOptions{Listen: os.Getenv("NAS_LISTEN"), Token: token, StoreDir: store})
		if err != nil {
			fmt.Fprintln(os.Stderr, "search:", err)
			return 1
		}
		defer srv.Shutdown()
		url = srv.URL()
	}
	nc, err := Connect(ClientOptions{URL: url, Token: token, Name: "search"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "search:", err)
		return 1
	}
	defer nc.Close()
	ev, err := New(context.Background(), Config{Conn: nc, RunID: os.Getenv("NAS_RUN"), AckWait: 2 * time.Second, ModelTimeout: 3 * time.Second, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "search:", err)
		return 1
	}
	defer ev.Close()
	if n, _ := strconv.Atoi(os.Getenv("NAS_SUPERVISE")); n > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		sup := &Supervisor{N: n, Logger: log, Command: func(i int) *exec.Cmd {
			cmd := workerCmd(url, token, fmt.Sprintf("sup%d", i), "NAS_SLEEP=300ms")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			return cmd
		}}
		sup.Start(ctx)
		defer func() { cancel(); sup.Wait() }()
	}
	fmt.Println("ready")
	hook := func(e search.Event) {
		if f, ok := e.(*search.TrialFinished); ok {
			fmt.Printf("committed %d\ndone %d\n", f.Record.Index, f.Done)
		}
	}
	cfg := search.Config{Dir: os.Getenv("NAS_DIR"), Resume: os.Getenv("NAS_RESUME") == "1", Options: searchOptions, Evaluator: ev, Hook: hook, Logger: log}
	if _, err := search.Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "search:", err)
		return 1
	}
	b, _ := json.Marshal(ev.Stats())
	fmt.Printf("stats %s\n", b)
	return 0
}

// fakeOutcome is a deterministic outcome of a trial: a reward from its
// architecture's hash, and a small "model".
func fakeOutcome(t search.Trial) search.Outcome {
	h := fnv.New64a()
	io.WriteString(h, t.Arch)
	r := float64(h.Sum64()%1000) / 1000
	return search.Outcome{Status: search.Done, Reward: r, ValAcc: []float64{r}, Params: int64(len(t.Arch)), Model: []byte("model of " + t.Arch)}
}

// fakeEvaluator is fakeOutcome in this process.
var fakeEvaluator = search.EvaluatorFunc(func(_ context.Context, t search.Trial) (search.Outcome, error) { return fakeOutcome(t), nil })

// testServer starts an embedded server on loopback (a port the system
// chooses) with token, stopped at the test's end.
func testServer(t *testing.T, token string) *Server {
	t.Helper()
	s, err := StartServer(ServerOptions{Token: token, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, s *Server, token string) *nats.Conn {
	t.Helper()
	nc, err := Connect(ClientOptions{URL: s.URL(), Token: token, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func testEvaluator(t *testing.T, nc *nats.Conn, cfg Config) *Evaluator {
	t.Helper()
	cfg.Conn = nc
	if cfg.RunID == "" {
		cfg.RunID = "test"
	}
	if cfg.ModelTimeout == 0 {
		cfg.ModelTimeout = 3 * time.Second // a worker that dies while it answers
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ev, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ev.Close)
	return ev
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// proc is a worker subprocess: its stdout lines arrive on lines, its
// stderr is kept.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
	err    error
	seen   []string // the lines waitLine and rest read
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// workerCmd is the command of a fake worker process.
func workerCmd(url, token, name string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NAS_DIST_WORKER=1", "NAS_URL="+url, "NAS_TOKEN="+token, "NAS_NAME="+name)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// searchCmd is the command of a fake search process.
func searchCmd(url, token, dir, run string, resume bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NAS_DIST_SEARCH=1", "NAS_URL="+url, "NAS_TOKEN="+token, "NAS_DIR="+dir, "NAS_RUN="+run)
	if resume {
		cmd.Env = append(cmd.Env, "NAS_RESUME=1")
	}
	return cmd
}

// startWorker starts a fake worker process, killed at the test's end.
func startWorker(t *testing.T, url, token, name string, env ...string) *proc {
	t.Helper()
	return startProc(t, workerCmd(url, token, name, env...))
}

// startProc starts a process of the test binary, killed at the test's
// end.
func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine waits for a line of the worker's stdout.
func (p *proc) waitLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-p.lines:
			p.seen = append(p.seen, l)
			if l == want {
				return
			}
		case <-p.done:
			t.Fatalf("worker exited (%v) before %q; stderr:\n%s", p.err, want, p.Stderr())
		case <-timeout:
			t.Fatalf("no %q from the worker in 20s; stderr:\n%s", want, p.Stderr())
		}
	}
}

// rest returns the lines of an exited process (those waitLine read
// included).
func (p *proc) rest(t *testing.T) []string {
	t.Helper()
	<-p.done
	out := p.seen
	for {
		select {
		case l := <-p.lines:
			out = append(out, l)
		default:
			p.seen = out
			return out
		}
	}
}

// exited waits for the worker process to end.
func (p *proc) exited(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(20 * time.Second):
		t.Fatalf("worker still running after 20s; stderr:\n%s", p.Stderr())
		return nil
	}
}

func trial(i int) search.Trial {
	return search.Trial{Index: i, Arch: fmt.Sprintf("kh3 kw3 f%d", 24+i), Seed: uint64(100 + i), Child: search.ChildOptions{Dataset: "digits"}}
}

// evaluate runs Evaluate in a goroutine.
func evaluate(ev *Evaluator, t search.Trial) chan evalResult {
	c := make(chan evalResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := ev.Evaluate(ctx, t)
		c <- evalResult{out, err}
	}()
	return c
}

type evalResult struct {
	out search.Outcome
	err error
}

// waitStats waits up to 10s for the evaluator's counts to satisfy ok.
func waitStats(t *testing.T, ev *Evaluator, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(ev.Stats()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}
