package main

import (
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/nas-project/nas/runner"
)

// runtimeFlags are the flags of every command that runs children.
type runtimeFlags struct {
	lib, device string
	threads     int
	steps       int
}

func (r *runtimeFlags) register(f *pflag.FlagSet) {
	f.StringVar(&r.lib, "ort-lib", "", "the ONNX Runtime library (default: $NAS_ORT_LIB, else .ort/ as make ort fetches it)")
	f.StringVar(&r.device, "device", "cpu", "where children train: cpu, cuda (needs an ORT GPU build), or auto (cuda, else cpu)")
	f.IntVar(&r.threads, "threads", 0, "intra-op threads per child (0: the number of cores)")
	f.IntVar(&r.steps, "steps-per-run", 0, "training steps per ONNX Runtime run, through the child's K-step graph (0: 16 on cuda, 1 on cpu; the trained bits are the same)")
}

func (r *runtimeFlags) runtime(log *slog.Logger) (*runner.Runtime, error) {
	// SharedArena: one CPU arena for every session of the process, so a
	// child's sessions start on memory earlier children touched (a child
	// 2% faster, runner/doc.go "A whole child"; the same trained bits).
	cfg := runner.Config{LibraryPath: r.lib, Device: r.device, Threads: r.threads, StepsPerRun: r.steps, SharedArena: true, Logger: log}
	if err := cfg.Validate(); err != nil {
		return nil, usageError{err}
	}
	return runner.New(cfg)
}
