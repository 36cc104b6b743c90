package main

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/nas-project/nas/internal/dist"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

// natsFlags are the flags that reach a NATS server (nas worker, and nas
// search --nats).
type natsFlags struct {
	url, token, creds, ca, cert, key string
}

func (n *natsFlags) register(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.StringVar(&n.url, "nats", "", what)
	f.StringVar(&n.token, "token", "", "the NATS server's token (default: $NAS_NATS_TOKEN)")
	f.StringVar(&n.creds, "creds", "", "a NATS credentials file (instead of a token)")
	f.StringVar(&n.ca, "tls-ca", "", "verify the NATS server's TLS certificate with this CA file")
	f.StringVar(&n.cert, "tls-cert", "", "TLS certificate (the worker's client certificate; with nas search --listen, the server's)")
	f.StringVar(&n.key, "tls-key", "", "the key of --tls-cert")
}

func (n *natsFlags) client(name string) dist.ClientOptions {
	tok := n.token
	if tok == "" && n.creds == "" {
		tok = os.Getenv("NAS_NATS_TOKEN")
	}
	return dist.ClientOptions{URL: n.url, Name: name, Token: tok, Creds: n.creds, CA: n.ca, Cert: n.cert, Key: n.key}
}

func (a *app) workerCmd() *cobra.Command {
	var (
		nf       natsFlags
		rf       runtimeFlags
		name     string
		dataDir  string
		parallel int
		keep     int
		quiet    bool
	)
	cmd := &cobra.Command{
		Use:   "worker --nats URL [--token T | --creds FILE]",
		Short: "Train the trials of searches run elsewhere (nas search --listen, --nats, --workers)",
		Long: `Connect to a search's NATS server and train its trials, one at a time per --parallel slot: each trial
message carries everything (run, index, architecture, seeds, child options, the data set's name), so a worker
needs no run directory; it loads the named data set from --data-dir. Results go back to the search, which
records them; the trained model stays here (the last --keep-models) until the search asks for it, which it
does only for a new best. Ctrl-C stops the worker; a trial in hand goes back to the queue for another worker.
A trial past the search's --trial-timeout is reported failed; one whose training does not stop then is
reported failed too and the worker exits (status 1), to be restarted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nf.url == "" {
				return usagef("worker: give --nats URL (nas search --listen prints the command line)")
			}
			if parallel < 1 {
				return usagef("worker: --parallel %d: want at least 1", parallel)
			}
			if keep < 1 {
				return usagef("worker: --keep-models %d: want at least 1", keep)
			}
			if err := checkThreads(rf.threads); err != nil {
				return err
			}
			if name == "" {
				host, _ := os.Hostname()
				name = fmt.Sprintf("%s-%d", host, os.Getpid())
			}
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})).With("worker", name)
			rt, err := rf.runtime(log)
			if err != nil {
				return err
			}
			nc, err := dist.Connect(nf.client(name))
			if err != nil {
				return err
			}
			defer nc.Close()
			root := dataRoot(dataDir)
			var mu sync.Mutex
			evs := map[string]search.Evaluator{}
			evaluatorFor := func(m dist.TrialMsg) (search.Evaluator, error) {
				if kd, _ := onnxgen.KindOf(m.Trial.Arch); kd == onnxgen.KindRNN {
					// A cell's language model: the corpus, whole (the
					// evaluator cuts its training and validation tokens).
					co := m.Trial.Child.LMDefaults()
					k := fmt.Sprintf("text %q %d", co.Dataset, co.LM.Vocab)
					mu.Lock()
					defer mu.Unlock()
					if ev, ok := evs[k]; ok {
						return ev, nil
					}
					corpus, err := localeval.LoadText(root, co)
					if err != nil {
						return nil, err
					}
					ev, err := localeval.NewLM(localeval.LMConfig{Runtime: rt, Corpus: corpus, Logger: log})
					if err != nil {
						return nil, err
					}
					evs[k] = ev
					return ev, nil
				}
				co := m.Trial.Child.WithDefaults()
				k := fmt.Sprintf("%q %d %d %d", co.Dataset, co.TrainSize, co.ValSize, m.DataSeed)
				mu.Lock()
				defer mu.Unlock()
				if ev, ok := evs[k]; ok {
					return ev, nil
				}
				d, err := localeval.LoadData(root, co, m.DataSeed)
				if err != nil {
					return nil, err
				}
				ev, err := localeval.New(localeval.Config{Runtime: rt, Train: d.Train, Val: d.Val, Norm: d.Norm, Logger: log})
				if err != nil {
					return nil, err
				}
				evs[k] = ev
				return ev, nil
			}
			if !quiet {
				fmt.Fprintf(a.stderr, "nas worker %s: connected to %s, %d trial(s) at once\n", name, nc.ConnectedUrlRedacted(), parallel)
			}
			err = dist.RunWorker(cmd.Context(), dist.WorkerConfig{Conn: nc, Name: name, Parallel: parallel, KeepModels: keep, Evaluator: evaluatorFor, Logger: log})
			if err != nil {
				return err
			}
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("worker %s stopped: %w", name, err) // by a signal: its exit status
			}
			return nil
		},
	}
	nf.register(cmd, "the NATS server to pull trials from (nats://host:4222, tls://host:4222)")
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "this worker's name in the trial table (default: host-pid)")
	f.StringVar(&dataDir, "data-dir", "", "where the named data sets are (default: $NAS_DATA, else .data)")
	f.IntVar(&parallel, "parallel", 1, "trials trained at once, each with --threads threads")
	f.IntVar(&keep, "keep-models", 8, "trained models kept for the search to ask for (it asks only for a new best; an older one is dropped)")
	f.BoolVarP(&quiet, "quiet", "q", false, "log only warnings and errors")
	rf.register(f)
	return cmd
}
