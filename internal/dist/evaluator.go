package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/nas-project/nas/search"
)

// Config configures an Evaluator.
type Config struct {
	// Conn is the connection to the NATS server. Required; the Evaluator
	// does not close it.
	Conn *nats.Conn
	// RunID names the search's subjects (letters, digits, - and _).
	// Required.
	RunID string
	// DataSeed seeds the data split on every worker (the run's seed, as
	// the in-process evaluator's data uses).
	DataSeed uint64
	// AckWait is how long a worker may hold a trial without a heartbeat
	// before it is redelivered (a worker killed mid-trial). Zero means 30s.
	AckWait time.Duration
	// MaxDeliver is how many times a trial is delivered to workers before
	// it is recorded failed (a child that kills its worker each time).
	// Zero means 2.
	MaxDeliver int
	// Logger receives the evaluator's log; nil: discarded.
	Logger *slog.Logger
}

// Stats count what the evaluator saw.
type Stats struct {
	// Results is the number of results taken (one per trial evaluated).
	Results int
	// Duplicates is the number of results ignored because their trial's
	// result was taken already (a redelivered trial trained twice, a late
	// ack).
	Duplicates int
	// Stale is the number of results for no trial of this search (left by
	// an earlier process of the run), ignored.
	Stale int
	// Exhausted is the number of trials failed after MaxDeliver
	// deliveries; Rejected the number a worker refused (Term).
	Exhausted, Rejected int
}

// Evaluator is a search.Evaluator that queues each trial on TrialStream
// and waits for a worker's result on ResultStream. It is safe for
// concurrent use.
type Evaluator struct {
	cfg     Config
	js      jetstream.JetStream
	models  jetstream.ObjectStore
	session string
	cc      jetstream.ConsumeContext
	subs    []*nats.Subscription

	mu      sync.Mutex
	waiting map[string]*waiter // by trial key
	bySeq   map[uint64]string  // trial stream sequence -> trial key
	taken   map[string]bool    // keys whose result was taken
	// early holds the failures advised for sequences not yet registered
	// (a worker may refuse a trial before its publication's ack arrives).
	early map[uint64]func() (string, func(*Stats))
	stats Stats
}

type waiter struct {
	t    search.Trial
	seq  uint64
	done chan answer // buffered 1
}

type answer struct {
	res    ResultMsg
	failed string // a delivery failure (MaxDeliver, Term): the reason
}

var _ search.Evaluator = (*Evaluator)(nil)

// Setup creates (or updates) the streams, the shared consumer and the
// model bucket on the server. Workers only bind to them.
func Setup(ctx context.Context, js jetstream.JetStream, ackWait time.Duration, maxDeliver int) (jetstream.ObjectStore, error) {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: TrialStream, Subjects: []string{trialPrefix + ">"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: 24 * time.Hour, MaxMsgSize: MaxMessageBytes}); err != nil {
		return nil, fmt.Errorf("dist: stream %s: %w", TrialStream, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: ResultStream, Subjects: []string{resultPrefix + ">"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: 24 * time.Hour, MaxMsgSize: MaxMessageBytes}); err != nil {
		return nil, fmt.Errorf("dist: stream %s: %w", ResultStream, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, TrialStream, jetstream.ConsumerConfig{Durable: Consumer,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: maxDeliver, MaxAckPending: -1,
		FilterSubject: trialPrefix + ">", DeliverPolicy: jetstream.DeliverAllPolicy}); err != nil {
		return nil, fmt.Errorf("dist: consumer %s: %w", Consumer, err)
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: ModelBucket, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("dist: object store %s: %w", ModelBucket, err)
	}
	return obs, nil
}

// New sets up the streams and starts taking results and advisories.
func New(ctx context.Context, cfg Config) (*Evaluator, error) {
	if cfg.Conn == nil {
		return nil, fmt.Errorf("dist: no NATS connection")
	}
	if !runIDPattern.MatchString(cfg.RunID) {
		return nil, fmt.Errorf("dist: run id %q: want 1 to 64 letters, digits, - or _", cfg.RunID)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("dist: %w", err)
	}
	obs, err := Setup(ctx, js, cfg.AckWait, cfg.MaxDeliver)
	if err != nil {
		return nil, err
	}
	e := &Evaluator{cfg: cfg, js: js, models: obs, session: nuid.Next(),
		waiting: map[string]*waiter{}, bySeq: map[uint64]string{}, taken: map[string]bool{},
		early: map[uint64]func() (string, func(*Stats)){}}
	rc, err := js.CreateOrUpdateConsumer(ctx, ResultStream, jetstream.ConsumerConfig{Durable: "search-" + cfg.RunID,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, FilterSubject: resultPrefix + cfg.RunID})
	if err != nil {
		return nil, fmt.Errorf("dist: results consumer: %w", err)
	}
	for _, a := range []struct {
		prefix string
		fn     func(*nats.Msg)
	}{{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES", e.onMaxDeliveries}, {"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED", e.onTerminated}} {
		sub, err := cfg.Conn.Subscribe(a.prefix+"."+TrialStream+"."+Consumer, a.fn)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("dist: advisories: %w", err)
		}
		e.subs = append(e.subs, sub)
	}
	if err := cfg.Conn.Flush(); err != nil {
		e.Close()
		return nil, fmt.Errorf("dist: %w", err)
	}
	if e.cc, err = rc.Consume(e.onResult); err != nil {
		e.Close()
		return nil, fmt.Errorf("dist: results: %w", err)
	}
	return e, nil
}

// Isolated: workers train the children, in other processes.
func (e *Evaluator) Isolated() bool { return true }

// Stats returns the counts so far.
func (e *Evaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Close stops taking results; Evaluate calls in flight wait on.
func (e *Evaluator) Close() {
	if e.cc != nil {
		e.cc.Stop()
	}
	for _, s := range e.subs {
		_ = s.Unsubscribe()
	}
}

// Evaluate queues the trial and waits for its result: the first result
// for its key wins. A trial delivered MaxDeliver times without a result,
// or refused by a worker, is Failed with the reason. A cancelled ctx takes
// the trial off the queue and returns ctx's error.
func (e *Evaluator) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	m := TrialMsg{Version: messageVersion, RunID: e.cfg.RunID, DataSeed: e.cfg.DataSeed, Trial: t}
	k := m.Key()
	b, err := json.Marshal(m)
	if err != nil {
		return search.Outcome{}, fmt.Errorf("dist: trial %d: %w", t.Index, err)
	}
	w := &waiter{t: t, done: make(chan answer, 1)}
	e.mu.Lock()
	if _, busy := e.waiting[k]; busy {
		e.mu.Unlock()
		return search.Outcome{}, fmt.Errorf("dist: trial %d is being evaluated already", t.Index)
	}
	e.waiting[k] = w
	delete(e.taken, k) // evaluated again (a retry): its next result counts
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.waiting, k)
		delete(e.bySeq, w.seq)
		e.mu.Unlock()
	}()
	// The message id makes a retried publish harmless; the session keeps
	// a trial evaluated again (a resumed search) from being dropped as a
	// duplicate of the earlier process's message.
	ack, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: trialPrefix + e.cfg.RunID, Data: b},
		jetstream.WithMsgID(k+"."+e.session))
	if err != nil {
		return search.Outcome{}, fmt.Errorf("dist: queue trial %d: %w", t.Index, err)
	}
	e.mu.Lock()
	w.seq = ack.Sequence
	e.bySeq[ack.Sequence] = k
	if f, ok := e.early[ack.Sequence]; ok {
		delete(e.early, ack.Sequence)
		reason, count := f()
		e.failLocked(k, w, reason, count)
	}
	e.mu.Unlock()
	select {
	case <-ctx.Done():
		// Off the queue (unless a worker holds it: its result is then
		// stale, and ignored).
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if s, err := e.js.Stream(dctx, TrialStream); err == nil {
			_ = s.DeleteMsg(dctx, ack.Sequence)
		}
		return search.Outcome{}, ctx.Err()
	case a := <-w.done:
		if a.failed != "" {
			return search.Outcome{Status: search.Failed, Reason: a.failed}, nil
		}
		return e.outcome(ctx, a.res)
	}
}

// outcome turns a taken result into the search's outcome, fetching the
// model from the object store (and deleting it there).
func (e *Evaluator) outcome(ctx context.Context, r ResultMsg) (search.Outcome, error) {
	if r.Error != "" {
		return search.Outcome{Worker: r.Worker}, fmt.Errorf("worker %s: %s", r.Worker, r.Error)
	}
	out, err := r.Outcome.outcome()
	if err != nil {
		return search.Outcome{Worker: r.Worker}, fmt.Errorf("dist: trial %d: %w", r.Index, err)
	}
	out.Worker = r.Worker
	if r.Model != "" {
		if out.Model, err = e.models.GetBytes(ctx, r.Model); err != nil {
			return out, fmt.Errorf("dist: trial %d: fetch its model %s: %w", r.Index, r.Model, err)
		}
		_ = e.models.Delete(ctx, r.Model)
	}
	return out, nil
}

// onResult takes a result message: the first for a trial being evaluated
// wins; the others are counted and dropped. Every result is acked once
// handed over (the search commits it as Evaluate returns; a search killed
// in between re-runs the trial, whose row is still "running").
func (e *Evaluator) onResult(msg jetstream.Msg) {
	r, err := DecodeResult(msg.Data())
	if err != nil {
		e.cfg.Logger.Error("dist: rejected a result message", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	k := key(r.RunID, r.Index)
	e.mu.Lock()
	w := e.waiting[k]
	switch {
	case e.taken[k]:
		e.stats.Duplicates++
		e.cfg.Logger.Info("dist: duplicate result ignored (the first one won)", "trial", r.Index, "worker", r.Worker, "delivery", r.Delivery)
	case w == nil || w.t.Arch != r.Arch || w.t.Seed != r.Seed:
		e.stats.Stale++
		e.cfg.Logger.Info("dist: result for no trial in flight ignored", "trial", r.Index, "worker", r.Worker)
	default:
		e.taken[k] = true
		e.stats.Results++
		w.done <- answer{res: r}
	}
	e.mu.Unlock()
	_ = msg.Ack()
}

// advisory is the part of the consumer advisories read here.
type advisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason"`
}

// onMaxDeliveries fails a trial delivered MaxDeliver times without a
// result: only this advisory says so, the message is never redelivered.
// It is deleted from the queue.
func (e *Evaluator) onMaxDeliveries(m *nats.Msg) {
	var a advisory
	if err := json.Unmarshal(m.Data, &a); err != nil {
		e.cfg.Logger.Error("dist: unreadable max-deliveries advisory", "err", err)
		return
	}
	reason := fmt.Sprintf("delivered to workers %d times without a result (the child killed or stalled its worker each time?)", a.Deliveries)
	if e.fail(a.StreamSeq, reason, func(s *Stats) { s.Exhausted++ }) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if s, err := e.js.Stream(ctx, TrialStream); err == nil {
			_ = s.DeleteMsg(ctx, a.StreamSeq)
		}
	}
}

// onTerminated fails a trial a worker refused.
func (e *Evaluator) onTerminated(m *nats.Msg) {
	var a advisory
	if err := json.Unmarshal(m.Data, &a); err != nil {
		e.cfg.Logger.Error("dist: unreadable terminated advisory", "err", err)
		return
	}
	reason := "refused by a worker"
	if a.Reason != "" {
		reason += ": " + a.Reason
	}
	e.fail(a.StreamSeq, reason, func(s *Stats) { s.Rejected++ })
}

// fail ends the evaluation of the trial at stream sequence seq, if it is
// ours and has no result yet.
func (e *Evaluator) fail(seq uint64, reason string, count func(*Stats)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, ok := e.bySeq[seq]
	if !ok {
		if len(e.early) > 1000 { // other runs' trials
			clear(e.early)
		}
		e.early[seq] = func() (string, func(*Stats)) { return reason, count }
		return false
	}
	w := e.waiting[k]
	if w == nil || e.taken[k] {
		return false
	}
	e.failLocked(k, w, reason, count)
	return true
}

// failLocked ends the evaluation of w with reason.
func (e *Evaluator) failLocked(k string, w *waiter, reason string, count func(*Stats)) {
	e.taken[k] = true
	count(&e.stats)
	e.cfg.Logger.Warn("dist: trial failed", "trial", w.t.Index, "reason", reason)
	w.done <- answer{failed: reason}
}

// seqString formats a stream sequence for logs.
func seqString(s uint64) string { return strconv.FormatUint(s, 10) }
