package main

import (
	"runtime"
	"testing"

	"github.com/nas-project/nas/search"
)

// TestChildParallelInFlight: the defaults of --in-flight and --parallel.
// In process D stays unset (1) and P is min(M·D, cores); with workers D
// makes the queue twice the worker slots and P queues every trial in
// flight; an explicit D, or a resumed run's, is kept.
func TestChildParallelInFlight(t *testing.T) {
	cores := runtime.NumCPU()
	for _, c := range []struct {
		name         string
		m, d, stored int
		wf           workerFlags
		wantD, wantP int
	}{
		{name: "in process", m: 8, wantD: 0, wantP: min(8, cores)},
		{name: "in process, D=3", m: 4, d: 3, wantD: 3, wantP: min(12, cores)},
		{name: "in process, resumed D=2", m: 4, stored: 2, wantD: 0, wantP: min(8, cores)},
		{name: "2 workers, M=4: one iteration fills them twice", m: 4, wf: workerFlags{workers: 2}, wantD: 1, wantP: 4},
		{name: "8 workers, M=4", m: 4, wf: workerFlags{workers: 8}, wantD: 4, wantP: 16},
		{name: "8 workers, M=8", m: 8, wf: workerFlags{workers: 8}, wantD: 2, wantP: 16},
		{name: "8 workers, D given", m: 4, d: 2, wf: workerFlags{workers: 8}, wantD: 2, wantP: 8},
		{name: "8 workers, resumed D=3", m: 4, stored: 3, wf: workerFlags{workers: 8}, wantD: 0, wantP: 12},
		{name: "remote workers count as M", m: 8, wf: workerFlags{listen: "127.0.0.1:0"}, wantD: 2, wantP: 16},
		{name: "remote and 12 local", m: 4, wf: workerFlags{workers: 12, nats: natsFlags{url: "nats://x"}}, wantD: 6, wantP: 24},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := search.Options{M: c.m, InFlight: c.d}
			var rf runtimeFlags
			childParallel(&o, c.wf, &rf, c.stored)
			if o.InFlight != c.wantD || o.Parallel != c.wantP {
				t.Errorf("in flight %d, parallel %d; want %d, %d", o.InFlight, o.Parallel, c.wantD, c.wantP)
			}
		})
	}
}
