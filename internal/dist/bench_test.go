package dist

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nas-project/nas/search"
)

// BenchmarkDispatch measures the dispatch overhead of a trial on loopback
// with a fake evaluator that takes no time: publish → the worker's
// evaluator starts ("start_*"), and the evaluator returns → Evaluate
// returns the outcome to the search ("result_*"), p50 and p99 in ms. One
// trial at a time, a worker in this process on a TCP connection of its own.
//
//	go test ./internal/dist -run '^$' -bench Dispatch -benchtime 500x
func BenchmarkDispatch(b *testing.B) {
	s, err := StartServer(ServerOptions{Token: "tok", StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown()
	nc, err := Connect(ClientOptions{URL: s.URL(), Token: "tok"})
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ev, err := New(context.Background(), Config{Conn: nc, RunID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer ev.Close()
	wc, err := Connect(ClientOptions{URL: s.URL(), Token: "tok"})
	if err != nil {
		b.Fatal(err)
	}
	defer wc.Close()
	var mu sync.Mutex
	started, ended := map[int]time.Time{}, map[int]time.Time{}
	fake := search.EvaluatorFunc(func(_ context.Context, t search.Trial) (search.Outcome, error) {
		now := time.Now()
		mu.Lock()
		started[t.Index] = now
		ended[t.Index] = time.Now()
		mu.Unlock()
		return search.Outcome{Status: search.Done, Reward: 0.5}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunWorker(ctx, WorkerConfig{Conn: wc, Name: "bench", Evaluator: func(TrialMsg) (search.Evaluator, error) { return fake, nil }})
	}()
	defer func() { cancel(); <-done }()
	// Warm up: the worker's pull is waiting.
	if _, err := ev.Evaluate(context.Background(), trial(1<<20)); err != nil {
		b.Fatal(err)
	}
	var toStart, toStore []time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := ev.Evaluate(context.Background(), trial(i)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		ev.Committed(i)
		mu.Lock()
		toStart = append(toStart, started[i].Sub(t0))
		toStore = append(toStore, t1.Sub(ended[i]))
		mu.Unlock()
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"start", toStart}, {"result", toStore}} {
		slices.Sort(m.d)
		q := func(p float64) float64 { return float64(m.d[min(len(m.d)-1, int(p*float64(len(m.d))))]) / 1e6 }
		b.ReportMetric(q(0.50), m.name+"_p50_ms")
		b.ReportMetric(q(0.99), m.name+"_p99_ms")
	}
}

// BenchmarkUtilisation measures how busy W workers are kept by a search
// of M trials per iteration (random strategy, 48 trials, every trial a
// fake that trains 20 to 60 ms by its architecture's hash): busy_% is the
// workers' training time over W × the search's wall time. The search runs
// one iteration at a time, so W = 2M keeps at most half the workers busy
// (issue 13's point 3, iterations in flight, is not done).
//
//	go test ./internal/dist -run '^$' -bench Utilisation -benchtime 1x
func BenchmarkUtilisation(b *testing.B) {
	for _, c := range []struct{ m, w int }{{4, 4}, {4, 8}} {
		b.Run(fmt.Sprintf("M=%d/W=%d", c.m, c.w), func(b *testing.B) {
			s, err := StartServer(ServerOptions{Token: "tok", StoreDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown()
			nc, err := Connect(ClientOptions{URL: s.URL(), Token: "tok"})
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			var mu sync.Mutex
			var busy time.Duration
			fake := search.EvaluatorFunc(func(ctx context.Context, t search.Trial) (search.Outcome, error) {
				out := fakeOutcome(t)
				d := time.Duration(20+int(out.Reward*40)) * time.Millisecond
				time.Sleep(d)
				mu.Lock()
				busy += d
				mu.Unlock()
				return out, nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			for i := range c.w {
				wc, err := Connect(ClientOptions{URL: s.URL(), Token: "tok"})
				if err != nil {
					b.Fatal(err)
				}
				defer wc.Close()
				wg.Go(func() {
					_ = RunWorker(ctx, WorkerConfig{Conn: wc, Name: fmt.Sprint("w", i), Evaluator: func(TrialMsg) (search.Evaluator, error) { return fake, nil }})
				})
			}
			var wall time.Duration
			for i := range b.N {
				ev, err := New(context.Background(), Config{Conn: nc, RunID: fmt.Sprint("util", i)})
				if err != nil {
					b.Fatal(err)
				}
				o := search.Options{Strategy: search.StrategyRandom, Space: "v1", M: c.m, Trials: 48, Parallel: c.m, Schedule: search.Schedule{StartLayers: 2}, Seed: 1}
				t0 := time.Now()
				if _, err := search.Run(context.Background(), search.Config{Dir: b.TempDir() + "/run", Options: o, Evaluator: ev}); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(t0)
				ev.Close()
			}
			mu.Lock()
			b.ReportMetric(100*float64(busy)/float64(time.Duration(c.w)*wall), "busy_%")
			mu.Unlock()
		})
	}
}
