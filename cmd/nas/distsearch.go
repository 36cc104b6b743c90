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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/nas-project/nas/internal/dist"
	"github.com/nas-project/nas/internal/serve"
	"github.com/nas-project/nas/search"
)

// workerFlags are nas search's flags for trials trained by worker
// processes: --workers N local ones, --listen ADDR for remote ones on the
// embedded server, --nats URL for an existing server.
type workerFlags struct {
	nats         natsFlags
	workers      int
	listen       string
	ackWait      time.Duration
	trialTimeout time.Duration
	clientCA     string
}

func (w *workerFlags) register(cmd *cobra.Command) {
	w.nats.register(cmd, "use this existing NATS server (with JetStream) for the workers instead of an embedded one")
	f := cmd.Flags()
	f.IntVar(&w.workers, "workers", 0, "train the children in this many local nas worker processes, supervised and restarted when they die")
	f.StringVar(&w.listen, "listen", "", "let remote workers join the embedded NATS server on this address (host:port; off loopback a token is required, generated unless --token)")
	f.StringVar(&w.clientCA, "tls-client-ca", "", "with --listen and --tls-cert: also require every worker to present a client certificate signed by this CA (mutual TLS)")
	f.DurationVar(&w.ackWait, "ack-wait", 0, "workers: a trial whose worker stops heartbeating (killed, frozen, cut off) goes to another worker after this long (0: 30s)")
	f.DurationVar(&w.trialTimeout, "trial-timeout", 0, "workers: a trial still training after this long is recorded failed (0: no limit)")
}

// on says whether the trials go to workers.
func (w *workerFlags) on() bool { return w.workers > 0 || w.listen != "" || w.nats.url != "" }

func (w *workerFlags) check() error {
	switch {
	case w.workers < 0:
		return usagef("search: --workers %d: want 0 or more", w.workers)
	case w.listen != "" && w.nats.url != "":
		return usagef("search: --listen (an embedded server) and --nats (an existing one) exclude each other")
	case w.ackWait < 0 || w.trialTimeout < 0:
		return usagef("search: --ack-wait %v, --trial-timeout %v: want durations of 0 or more", w.ackWait, w.trialTimeout)
	case !w.on() && (w.ackWait != 0 || w.trialTimeout != 0):
		return usagef("search: --ack-wait and --trial-timeout apply to workers: give --workers, --listen or --nats")
	case w.clientCA != "" && (w.listen == "" || w.nats.cert == ""):
		return usagef("search: --tls-client-ca needs --listen and --tls-cert/--tls-key (the embedded server's TLS)")
	case w.clientCA != "" && w.workers > 0:
		return usagef("search: --tls-client-ca with --workers: local workers have no client certificate; start them as nas worker --tls-cert/--tls-key")
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

// natsStore is the embedded server's JetStream store of the run in dir: a
// directory of its own per run, kept until the search completes, so that
// a search killed and resumed finds the queue and the results that
// workers published meanwhile.
func natsStore(dir string) string { return filepath.Join(os.TempDir(), "nas-nats-"+runID(dir)) }

// distEvaluator starts what the flags ask for (an embedded server, local
// workers) and returns the evaluator over it, and a function that stops it
// all (given true when the search completed: the embedded server's store
// is then removed).
func (a *app) distEvaluator(ctx context.Context, w workerFlags, dir string, resume bool, dataSeed uint64, rf runtimeFlags, dataDir string,
	log *slog.Logger, info io.Writer) (search.Evaluator, func(completed bool), error) {
	var stops []func()
	completed := false
	stop := func(done bool) {
		completed = done
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	co := w.nats.client("nas-search")
	var srv *dist.Server
	if w.nats.url == "" {
		store := natsStore(dir)
		if !resume {
			// A new run: what a run of the same directory left is not its.
			if err := os.RemoveAll(store); err != nil {
				return nil, stop, fmt.Errorf("search: %w", err)
			}
		}
		if err := os.MkdirAll(store, 0o700); err != nil {
			return nil, stop, fmt.Errorf("search: %w", err)
		}
		stops = append(stops, func() {
			if completed {
				os.RemoveAll(store)
			}
		})
		if co.Token == "" {
			co.Token = serve.NewToken()
		}
		var err error
		srv, err = dist.StartServer(dist.ServerOptions{Listen: w.listen, Token: co.Token, TLSCert: w.nats.cert, TLSKey: w.nats.key, TLSClientCA: w.clientCA, StoreDir: store})
		if err != nil {
			stop(false)
			return nil, func(bool) {}, usageError{err}
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
			join := fmt.Sprintf("nas worker --nats %s://%s --token %s", scheme, net.JoinHostPort(host, port), co.Token)
			if w.clientCA != "" {
				join += " --tls-ca CA --tls-cert CERT --tls-key KEY"
			}
			fmt.Fprintf(info, "workers join with:\n  %s\n", join)
		}
	}
	var nc *nats.Conn
	var err error
	if w.clientCA != "" {
		nc, err = srv.ConnectInProcess("nas-search", co.Token) // the search has no client certificate
	} else {
		nc, err = dist.Connect(co)
	}
	if err != nil {
		stop(false)
		return nil, func(bool) {}, err
	}
	stops = append(stops, nc.Close)
	ev, err := dist.New(ctx, dist.Config{Conn: nc, RunID: runID(dir), DataSeed: dataSeed, AckWait: w.ackWait, TrialTimeout: w.trialTimeout, Logger: log})
	if err != nil {
		stop(false)
		return nil, func(bool) {}, err
	}
	stops = append(stops, ev.Close)
	if w.workers > 0 {
		exe, err := workerExecutable()
		if err != nil {
			stop(false)
			return nil, func(bool) {}, fmt.Errorf("search: the nas binary for the workers: %w", err)
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
