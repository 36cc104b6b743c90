package dist

import (
	"bufio"
	"context"
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
	os.Exit(m.Run())
}

// fakeWorkerMain is a worker process: $NAS_URL, $NAS_TOKEN, $NAS_NAME; the
// fake trains for $NAS_SLEEP and exits (status 3) on the trial numbered
// $NAS_DIE, as a child that kills its worker would. It prints
// "start INDEX" when a trial starts, and logs to stderr.
func fakeWorkerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	nc, err := Connect(ClientOptions{URL: os.Getenv("NAS_URL"), Token: os.Getenv("NAS_TOKEN"), Name: os.Getenv("NAS_NAME")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer nc.Close()
	sleep, _ := time.ParseDuration(os.Getenv("NAS_SLEEP"))
	die := -1
	if s := os.Getenv("NAS_DIE"); s != "" {
		die, _ = strconv.Atoi(s)
	}
	ev := search.EvaluatorFunc(func(ctx context.Context, t search.Trial) (search.Outcome, error) {
		fmt.Printf("start %d\n", t.Index)
		if t.Index == die {
			os.Exit(3)
		}
		select {
		case <-ctx.Done():
			return search.Outcome{}, ctx.Err()
		case <-time.After(sleep):
		}
		return fakeOutcome(t), nil
	})
	err = RunWorker(ctx, WorkerConfig{Conn: nc, Name: os.Getenv("NAS_NAME"), Logger: log,
		Evaluator: func(TrialMsg) (search.Evaluator, error) { return ev, nil }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
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

// startWorker starts a fake worker process, killed at the test's end.
func startWorker(t *testing.T, url, token, name string, env ...string) *proc {
	t.Helper()
	p := &proc{cmd: workerCmd(url, token, name, env...), lines: make(chan string, 100), done: make(chan struct{})}
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
