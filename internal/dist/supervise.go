package dist

import (
	"context"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Supervisor runs N worker processes and restarts each one that exits
// while its context lives (a child that killed its worker; the trial it
// held is redelivered by the server after AckWait). On Linux the workers
// die with the supervising process, even when it is killed (SIGKILL).
type Supervisor struct {
	// N is the number of processes.
	N int
	// Command makes the command of process i (a fresh one each start).
	Command func(i int) *exec.Cmd
	// Logger receives a line per start and exit; nil: discarded.
	Logger *slog.Logger

	wg       sync.WaitGroup
	mu       sync.Mutex
	restarts int
}

// Start starts the processes. Cancelling ctx stops them: SIGINT (a worker
// gives its trial back), then SIGKILL after 5 s; Wait waits for that.
func (s *Supervisor) Start(ctx context.Context) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	for i := range s.N {
		s.wg.Go(func() { s.keep(ctx, i) })
	}
}

// Wait waits until every process has exited after ctx was cancelled.
func (s *Supervisor) Wait() { s.wg.Wait() }

// Restarts is how many times a process was restarted.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

func (s *Supervisor) keep(ctx context.Context, i int) {
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
		}
		cmd := s.Command(i)
		dieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			s.Logger.Error("start worker", "worker", i, "err", err)
		} else {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if ctx.Err() == nil {
					s.Logger.Warn("worker exited; restarting it", "worker", i, "pid", cmd.Process.Pid, "err", err)
				}
			case <-ctx.Done():
				_ = cmd.Process.Signal(syscall.SIGINT)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-done
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
