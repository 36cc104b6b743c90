package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nas-project/nas/internal/serve"
)

func (a *app) serveCmd() *cobra.Command {
	var listen, token string
	cmd := &cobra.Command{
		Use:   "serve DIR... [--listen 127.0.0.1:8080] [--token T]",
		Short: "A live web view of one or more run directories",
		Long: `Serve a web page over the run directories: the runs, each run's trials (sortable, filtered by status),
its rewards and accuracy against cost, each trial's architecture, training curve and models, and the runs side
by side. The page updates while a search writes to a directory, in this process or another. It is read-only and
serves only the directories named here. It listens on loopback unless told otherwise; any other address needs a
token (--token, or one is generated), which the printed address carries.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("serve: give one or more run directories")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serveRuns(cmd.Context(), cmd.OutOrStdout(), args, listen, token, nil)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", serve.DefaultListen, "address to listen on (host:port; a non-loopback host needs a token)")
	cmd.Flags().StringVar(&token, "token", "", "require this token on every request (default: none on loopback, a generated one elsewhere)")
	return cmd
}

// serveFlag registers nas search's --serve[=ADDR].
func serveFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "serve", "", "serve the live web view of the run beside the search: --serve ("+serve.DefaultListen+") or --serve=ADDR (a non-loopback ADDR gets a token)")
	f.Lookup("serve").NoOptDefVal = serve.DefaultListen
}

// serveRuns serves the view of dirs until ctx is done, printing its address
// to w; a non-loopback listen without a token gets a generated one. ready,
// if not nil, receives one value: nil once it listens, or why it could not.
func (a *app) serveRuns(ctx context.Context, w io.Writer, dirs []string, listen, token string, ready chan<- error) error {
	started := false
	err := func() error {
		loop, err := serve.IsLoopback(listen)
		if err != nil {
			return usageError{err}
		}
		if !loop && token == "" {
			token = serve.NewToken()
		}
		s, err := serve.New(serve.Config{Dirs: dirs, Listen: listen, Token: token, Logger: a.logger().WithGroup("serve")})
		if err != nil {
			return usageError{err}
		}
		return s.ListenAndServe(ctx, func(url string) {
			fmt.Fprintf(w, "serving %d run(s) at %s\n", len(dirs), url)
			started = true
			if ready != nil {
				ready <- nil
			}
		})
	}()
	if !started && ready != nil {
		ready <- err
	}
	return err
}

// serveBeside starts the view of dir beside a search (nas search --serve),
// creating dir if the search has not yet: it prints the address and serves
// until ctx is done. It returns once the view listens, or why it cannot.
func (a *app) serveBeside(ctx context.Context, w io.Writer, dir, listen string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() { _ = a.serveRuns(ctx, w, []string{dir}, listen, "", ready) }()
	return <-ready
}
