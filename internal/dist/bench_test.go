package dist

import (
	"context"
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
