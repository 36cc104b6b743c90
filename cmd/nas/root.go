package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit statuses of nas (README's "Exit status" states them too).
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad input: flags, arguments, an unknown command, an architecture, a data set
	// exitSignal + the signal's number: the command stopped cleanly after
	// SIGINT (130), SIGTERM (143) or SIGHUP (129), as a shell reports a
	// process that signal killed.
	exitSignal = 128
)

// stopSignals cancel the command's context; a second one of them kills
// the process (the default action, restored after the first).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// usageError marks an error caused by the user's input; nas exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app carries what every subcommand shares: the writers, injected so tests and
// scripts can capture them.
type app struct {
	stdout, stderr io.Writer
	// started is set when a command's RunE begins: an error before that
	// came from cobra reading the command line (an unknown command, a bad
	// flag, a wrong number of arguments, a missing required flag).
	started bool
}

// Main runs nas with the given arguments and returns its exit status. The
// context is cancelled by SIGINT, SIGTERM or SIGHUP.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	var got atomic.Value // the os.Signal that cancelled ctx
	go func() {
		select {
		case s := <-sigs:
			got.Store(s)
			signal.Stop(sigs) // a second signal kills the process
			cancel()
		case <-ctx.Done():
		}
	}()
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "nas:", err)
	return a.exitStatus(err, got.Load())
}

// exitStatus maps the error of a command to nas's exit status; sig is the
// signal that cancelled the command's context, or nil (whatever the error,
// a command stopped by a signal ends with the signal's status).
func (a *app) exitStatus(err error, sig any) int {
	var ue usageError
	switch {
	case sig != nil:
		if s, ok := sig.(syscall.Signal); ok {
			return exitSignal + int(s)
		}
		return exitSignal + int(syscall.SIGINT)
	case errors.As(err, &ue), !a.started:
		return exitUsage
	}
	return exitError
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "nas",
		Short:         "Neural Architecture Search with reinforcement learning, exporting ONNX models",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.searchCmd(), a.trainCmd(), a.compileCmd(), a.exportCmd(), a.retrainCmd(), a.showCmd(), a.plotCmd(), a.graphCmd(), a.serveCmd(), a.workerCmd(), a.generateCmd())
	for _, c := range root.Commands() {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				a.started = true
				return run(cmd, args)
			}
		}
	}
	return root
}

// version is written into exported models' metadata.
const version = "0.1.0-dev"

// isTerminal reports whether w is a terminal (progress bars only go there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logger is the commands' log: warnings and errors, to stderr.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
