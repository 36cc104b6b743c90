package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/nas-project/nas/internal/dist"
	"github.com/nas-project/nas/internal/serve"
	"github.com/nas-project/nas/search"
)

// workerFlags are nas search's flags for trials trained by worker
// processes: --workers N local ones, --listen ADDR for remote ones on the
// embedded server, --nats URL for an existing server.
type workerFlags struct {
	nats    natsFlags
	workers int
	listen  string
}

func (w *workerFlags) register(cmd *cobra.Command) {
	w.nats.register(cmd, "use this existing NATS server (with JetStream) for the workers instead of an embedded one")
	f := cmd.Flags()
	f.IntVar(&w.workers, "workers", 0, "train the children in this many local nas worker processes, supervised and restarted when they die")
	f.StringVar(&w.listen, "listen", "", "let remote workers join the embedded NATS server on this address (host:port; off loopback a token is required, generated unless --token)")
}

// on says whether the trials go to workers.
func (w *workerFlags) on() bool { return w.workers > 0 || w.listen != "" || w.nats.url != "" }

func (w *workerFlags) check() error {
	switch {
	case w.workers < 0:
		return usagef("search: --workers %d: want 0 or more", w.workers)
	case w.listen != "" && w.nats.url != "":
		return usagef("search: --listen (an embedded server) and --nats (an existing one) exclude each other")
	}
	if w.listen != "" {
		if _, _, err := net.SplitHostPort(w.listen); err != nil {
			return usagef("search: --listen %q: %v", w.listen, err)
		}
	}
	return nil
}

// runID names a run's subjects: from its directory, so that a resumed run
// takes its earlier results.
func runID(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	h := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(h[:8])
}

// workerExecutable is the nas binary to start workers with: the path this
// process was started by (so a link named nas is kept), else its
// executable.
func workerExecutable() (string, error) {
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}

// distEvaluator starts what the flags ask for (an embedded server, local
// workers) and returns the evaluator over it, and a function that stops it
// all.
func (a *app) distEvaluator(ctx context.Context, w workerFlags, dir string, dataSeed uint64, rf runtimeFlags, dataDir string,
	log *slog.Logger, info io.Writer) (search.Evaluator, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	co := w.nats.client("nas-search")
	if w.nats.url == "" {
		store, err := os.MkdirTemp("", "nas-nats-")
		if err != nil {
			return nil, stop, fmt.Errorf("search: %w", err)
		}
		stops = append(stops, func() { os.RemoveAll(store) })
		if co.Token == "" {
			co.Token = serve.NewToken()
		}
		srv, err := dist.StartServer(dist.ServerOptions{Listen: w.listen, Token: co.Token, TLSCert: w.nats.cert, TLSKey: w.nats.key, StoreDir: store})
		if err != nil {
			stop()
			return nil, func() {}, usageError{err}
		}
		stops = append(stops, srv.Shutdown)
		co.URL = srv.URL()
		co.Cert, co.Key = "", ""
		if w.nats.cert != "" && co.CA == "" {
			co.CA = w.nats.cert // a self-signed certificate verifies itself
		}
		if w.listen != "" {
			host, _, _ := net.SplitHostPort(w.listen)
			_, port, _ := net.SplitHostPort(srv.Addr().String())
			if host == "" || host == "0.0.0.0" || host == "::" {
				host, _ = os.Hostname()
			}
			scheme := "nats"
			if w.nats.cert != "" {
				scheme = "tls"
			}
			fmt.Fprintf(info, "workers join with:\n  nas worker --nats %s://%s --token %s\n", scheme, net.JoinHostPort(host, port), co.Token)
		}
	}
	nc, err := dist.Connect(co)
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	stops = append(stops, nc.Close)
	ev, err := dist.New(ctx, dist.Config{Conn: nc, RunID: runID(dir), DataSeed: dataSeed, Logger: log})
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	stops = append(stops, ev.Close)
	if w.workers > 0 {
		exe, err := workerExecutable()
		if err != nil {
			stop()
			return nil, func() {}, fmt.Errorf("search: the nas binary for the workers: %w", err)
		}
		sctx, cancel := context.WithCancel(context.Background())
		sup := &dist.Supervisor{N: w.workers, Logger: log, Command: func(i int) *exec.Cmd {
			args := []string{"worker", "--nats", co.URL, "--name", "local-" + strconv.Itoa(i), "--quiet",
				"--threads", strconv.Itoa(rf.threads), "--device", rf.device, "--data-dir", dataDir}
			if rf.lib != "" {
				args = append(args, "--ort-lib", rf.lib)
			}
			if co.Creds != "" {
				args = append(args, "--creds", co.Creds)
			}
			if co.CA != "" {
				args = append(args, "--tls-ca", co.CA)
			}
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), "NAS_NATS_TOKEN="+co.Token) // not on the command line
			cmd.Stdout, cmd.Stderr = a.stderr, a.stderr
			return cmd
		}}
		sup.Start(sctx)
		stops = append(stops, func() { cancel(); sup.Wait() })
	}
	return ev, stop, nil
}
