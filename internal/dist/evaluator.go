package dist

import (
	"context"
	"encoding/json"
	"errors"
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
	// before it is redelivered (a worker killed, frozen or cut off
	// mid-trial). Zero means 30s.
	AckWait time.Duration
	// MaxDeliver is how many times a trial is delivered to workers before
	// it is recorded failed (a child that kills its worker each time).
	// Zero means 2.
	MaxDeliver int
	// TrialTimeout is each trial's time limit on its worker (the
	// evaluator's context deadline there): a trial that runs longer is
	// recorded failed, with that reason. Zero means none.
	TrialTimeout time.Duration
	// ModelTimeout is how long the search waits for a worker to hand over
	// a kept model it asks for (a worker gone answers at once: no
	// responders). Zero means 20s.
	ModelTimeout time.Duration
	// Logger receives the evaluator's log; nil: discarded.
	Logger *slog.Logger
}

// Stats count what the evaluator saw.
type Stats struct {
	// Results is the number of results taken (one per trial evaluated),
	// Recovered the number of them that had arrived before the search
	// asked (a worker finished the trial while the search was down).
	Results, Recovered int
	// Duplicates is the number of results ignored because their trial's
	// result was taken already (a redelivered trial trained twice, a late
	// ack) or is in the store (Reconcile).
	Duplicates int
	// Stale is the number of results ignored because they answer another
	// trial at the same index (another run of the same directory).
	Stale int
	// Purged is the number of trial messages of an earlier process of the
	// run removed from the queue when the evaluator started.
	Purged int
	// Exhausted is the number of trials failed after MaxDeliver
	// deliveries; Rejected the number a worker refused (Term).
	Exhausted, Rejected int
	// ModelsFetched is the number of models asked of the workers that kept
	// them; ModelsRetrained the number trained again because that worker
	// was gone; ModelsUnavailable the number neither gave.
	ModelsFetched, ModelsRetrained, ModelsUnavailable int
}

// Evaluator is a search.Evaluator that queues each trial on TrialStream
// and waits for a worker's result on ResultStream. It is safe for
// concurrent use.
type Evaluator struct {
	cfg    Config
	js     jetstream.JetStream
	models jetstream.ObjectStore
	cc     jetstream.ConsumeContext
	subs   []*nats.Subscription

	mu      sync.Mutex
	waiting map[string]*waiter // by trial key (+"#model": a retraining for the model)
	bySeq   map[uint64]string  // trial stream sequence -> trial key
	taken   map[string]bool    // keys whose result was taken
	// held are the result messages taken and not yet committed, by trial
	// index: acked once the search commits the trial (Committed).
	held map[int]jetstream.Msg
	// kept are results that arrived for no trial in flight (a worker
	// finished while the search was down), by key, unacked: Evaluate takes
	// one for the trial it answers; Reconcile drops those of trials in the
	// store.
	kept map[string]keptResult
	// final are the trials whose final rows the store holds.
	final map[int]bool
	// early holds the failures advised for sequences not yet registered
	// (a worker may refuse a trial before its publication's ack arrives).
	early map[uint64]func() (string, func(*Stats))
	// deleted are the trial messages this evaluator deleted: the server
	// advises each as terminated, which is no worker's refusal.
	deleted map[uint64]bool
	stats   Stats
}

type keptResult struct {
	res ResultMsg
	msg jetstream.Msg
}

type waiter struct {
	t    search.Trial
	sum  string
	seq  uint64
	done chan answer // buffered 1
}

type answer struct {
	res    ResultMsg
	failed string // a delivery failure (MaxDeliver, Term): the reason
}

var (
	_ search.Evaluator  = (*Evaluator)(nil)
	_ search.Reconciler = (*Evaluator)(nil)
)

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
	// The bucket before the consumer: a worker waits for the consumer,
	// then binds to both.
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: ModelBucket, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("dist: object store %s: %w", ModelBucket, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, TrialStream, jetstream.ConsumerConfig{Durable: Consumer,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: maxDeliver, MaxAckPending: -1,
		FilterSubject: trialPrefix + ">", DeliverPolicy: jetstream.DeliverAllPolicy}); err != nil {
		return nil, fmt.Errorf("dist: consumer %s: %w", Consumer, err)
	}
	return obs, nil
}

// New sets up the streams and starts taking results and advisories. What
// an earlier process of the run left is reconciled: its trial messages
// are purged from the queue (a resumed search queues what it still needs
// again), and the results workers published meanwhile are kept for the
// trials they answer (Evaluate takes them without training again;
// Reconcile drops those of trials the store has).
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
	if cfg.ModelTimeout == 0 {
		cfg.ModelTimeout = 20 * time.Second
	}
	if cfg.AckWait < 0 || cfg.MaxDeliver < 0 || cfg.TrialTimeout < 0 || cfg.ModelTimeout < 0 {
		return nil, fmt.Errorf("dist: negative AckWait, MaxDeliver, TrialTimeout or ModelTimeout")
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
	e := &Evaluator{cfg: cfg, js: js, models: obs,
		waiting: map[string]*waiter{}, bySeq: map[uint64]string{}, taken: map[string]bool{},
		held: map[int]jetstream.Msg{}, kept: map[string]keptResult{}, final: map[int]bool{},
		early: map[uint64]func() (string, func(*Stats)){}, deleted: map[uint64]bool{}}
	if err := e.purge(ctx); err != nil {
		return nil, err
	}
	// The results consumer is made anew, so that the results an earlier
	// process had been delivered and not acked (taken, not committed)
	// come at once, not after their AckWait.
	durable := "search-" + cfg.RunID
	if err := js.DeleteConsumer(ctx, ResultStream, durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("dist: results consumer: %w", err)
	}
	rc, err := js.CreateOrUpdateConsumer(ctx, ResultStream, jetstream.ConsumerConfig{Durable: durable,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour, MaxAckPending: -1, FilterSubject: resultPrefix + cfg.RunID,
		DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, fmt.Errorf("dist: results consumer: %w", err)
	}
	// What is there already, before the search asks for anything.
	for {
		batch, err := rc.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("dist: results: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			e.onResult(msg)
			n++
		}
		if n == 0 {
			break
		}
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

// purge removes the run's trial messages from the queue: none is this
// process's yet, so they are an earlier process's (a search killed with
// trials queued or held by workers). A worker holding one finishes it and
// its result is kept; the trial is queued again if the search needs it.
func (e *Evaluator) purge(ctx context.Context) error {
	subject := trialPrefix + e.cfg.RunID
	s, err := e.js.Stream(ctx, TrialStream)
	if err != nil {
		return fmt.Errorf("dist: stream %s: %w", TrialStream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return fmt.Errorf("dist: stream %s: %w", TrialStream, err)
	}
	n := info.State.Subjects[subject]
	if n == 0 {
		return nil
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("dist: purge an earlier process's trials: %w", err)
	}
	e.stats.Purged = int(n)
	e.cfg.Logger.Info("dist: removed an earlier process's trial messages from the queue", "count", n)
	return nil
}

// Isolated: workers train the children, in other processes.
func (e *Evaluator) Isolated() bool { return true }

// Reconcile drops the kept results of trials the store holds (left by an
// earlier process of the run, or late duplicates): acked, counted as
// duplicates. Later results for them are dropped the same way.
func (e *Evaluator) Reconcile(_ context.Context, final []int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, i := range final {
		e.final[i] = true
	}
	for k, kr := range e.kept {
		if e.final[kr.res.Index] && !kr.res.ShipModel {
			delete(e.kept, k)
			_ = kr.msg.Ack()
			e.stats.Duplicates++
			e.cfg.Logger.Info("dist: result of a trial the store has dropped", "trial", kr.res.Index, "worker", kr.res.Worker)
		}
	}
	return nil
}

// Committed acks the result of trial index, now in the store.
func (e *Evaluator) Committed(index int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.final[index] = true
	if m, ok := e.held[index]; ok {
		delete(e.held, index)
		_ = m.Ack()
	}
}

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
// for its key wins (one that arrived before, kept, too). A trial
// delivered MaxDeliver times without a result, or refused by a worker, is
// Failed with the reason. A cancelled ctx takes the trial off the queue
// and returns ctx's error. A Done trial's model stays with its worker:
// the outcome's FetchModel asks for it.
func (e *Evaluator) Evaluate(ctx context.Context, t search.Trial) (search.Outcome, error) {
	m := TrialMsg{Version: messageVersion, RunID: e.cfg.RunID, DataSeed: e.cfg.DataSeed, Trial: t, TimeLimit: e.cfg.TrialTimeout}
	k := m.Key()
	e.mu.Lock()
	if kr, ok := e.kept[k]; ok && !e.taken[k] {
		delete(e.kept, k)
		if kr.res.Trial == m.Sum() {
			e.taken[k] = true
			e.held[t.Index] = kr.msg
			e.stats.Results++
			e.stats.Recovered++
			e.mu.Unlock()
			e.cfg.Logger.Info("dist: result published while the search was away taken", "trial", t.Index, "worker", kr.res.Worker)
			return e.outcome(ctx, kr.res, t)
		}
		_ = kr.msg.Ack()
		e.stats.Stale++
	}
	e.mu.Unlock()
	a, err := e.queue(ctx, m, k)
	if err != nil {
		return search.Outcome{}, err
	}
	if a.failed != "" {
		return search.Outcome{Status: search.Failed, Reason: a.failed}, nil
	}
	return e.outcome(ctx, a.res, t)
}

// queue publishes a trial message and waits for its answer, under key k.
func (e *Evaluator) queue(ctx context.Context, m TrialMsg, k string) (answer, error) {
	t := m.Trial
	b, err := json.Marshal(m)
	if err != nil {
		return answer{}, fmt.Errorf("dist: trial %d: %w", t.Index, err)
	}
	w := &waiter{t: t, sum: m.Sum(), done: make(chan answer, 1)}
	e.mu.Lock()
	if _, busy := e.waiting[k]; busy {
		e.mu.Unlock()
		return answer{}, fmt.Errorf("dist: trial %d is being evaluated already", t.Index)
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
	// The message id makes a retried publish harmless; it is new for each
	// evaluation, so that a trial evaluated again (a resumed search, a
	// retraining for the model) is not dropped as a duplicate.
	id := k + "." + nuid.Next()
	ack, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: trialPrefix + e.cfg.RunID, Data: b}, jetstream.WithMsgID(id))
	if err != nil {
		return answer{}, fmt.Errorf("dist: queue trial %d: %w", t.Index, err)
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
		// kept, for a resumed search).
		e.deleteMsg(ack.Sequence)
		return answer{}, ctx.Err()
	case a := <-w.done:
		if a.failed == "" && a.res.Seq != ack.Sequence {
			// Answered by another message's worker (an earlier
			// process's): this one need not be trained.
			go e.deleteMsg(ack.Sequence)
		}
		return a, nil
	}
}

// deleteMsg removes a trial message from the queue (best effort: it may
// be gone already).
func (e *Evaluator) deleteMsg(seq uint64) {
	e.mu.Lock()
	if len(e.deleted) > 10000 {
		clear(e.deleted)
	}
	e.deleted[seq] = true
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s, err := e.js.Stream(ctx, TrialStream); err == nil {
		_ = s.DeleteMsg(ctx, seq)
	}
}

// outcome turns a taken result into the search's outcome: with a model
// shipped through the object store (a retraining's), or a FetchModel that
// asks the worker for the model it keeps.
func (e *Evaluator) outcome(ctx context.Context, r ResultMsg, t search.Trial) (search.Outcome, error) {
	if r.Error != "" {
		return search.Outcome{Worker: r.Worker}, fmt.Errorf("worker %s: %s", r.Worker, r.Error)
	}
	out, err := r.Outcome.outcome()
	if err != nil {
		return search.Outcome{Worker: r.Worker}, fmt.Errorf("dist: trial %d: %w", r.Index, err)
	}
	out.Worker = r.Worker
	switch {
	case r.Model != "":
		if out.Model, err = e.takeModel(ctx, r.Model); err != nil {
			return out, fmt.Errorf("dist: trial %d: %w", r.Index, err)
		}
	case r.ModelAt != "":
		out.FetchModel = func(ctx context.Context) ([]byte, error) { return e.fetchModel(ctx, r, t) }
	}
	return out, nil
}

// takeModel reads a model from the object store and deletes it there.
func (e *Evaluator) takeModel(ctx context.Context, name string) ([]byte, error) {
	b, err := e.models.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("fetch the model %s: %w", name, err)
	}
	_ = e.models.Delete(ctx, name)
	return b, nil
}

// fetchModel asks the worker that trained r's trial for its model; when
// that worker is gone (or no longer keeps it), the trial is trained again
// by any worker, which ships the model, and it is taken if the outcome is
// the same (training is deterministic given the trial); else the model is
// unavailable (an error).
func (e *Evaluator) fetchModel(ctx context.Context, r ResultMsg, t search.Trial) ([]byte, error) {
	name := key(r.RunID, r.Index) + "." + r.Trial + "." + nuid.Next()
	req, _ := json.Marshal(modelRequest{Trial: r.Trial, Name: name})
	rctx, cancel := context.WithTimeout(ctx, e.cfg.ModelTimeout)
	reply, err := e.cfg.Conn.RequestWithContext(rctx, r.ModelAt, req)
	cancel()
	why := ""
	if err == nil {
		var rep modelReply
		if uerr := json.Unmarshal(reply.Data, &rep); uerr != nil {
			why = fmt.Sprintf("worker %s: unreadable reply %q", r.Worker, reply.Data)
		} else if rep.Error != "" {
			why = rep.Error
		} else {
			b, err := e.takeModel(ctx, name)
			if err == nil {
				e.count(func(s *Stats) { s.ModelsFetched++ })
				return b, nil
			}
			why = err.Error()
		}
	} else {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		why = fmt.Sprintf("worker %s: %v", r.Worker, err)
		if errors.Is(err, nats.ErrNoResponders) {
			why = fmt.Sprintf("worker %s is gone", r.Worker)
		}
	}
	e.cfg.Logger.Warn("dist: the best trial's model is not with its worker: training the trial again for it", "trial", r.Index, "why", why)
	m := TrialMsg{Version: messageVersion, RunID: e.cfg.RunID, DataSeed: e.cfg.DataSeed, Trial: t, TimeLimit: e.cfg.TrialTimeout, ShipModel: true}
	a, err := e.queue(ctx, m, key(r.RunID, r.Index)+"#model")
	if err != nil {
		return nil, err
	}
	again, oerr := a.res.Outcome.outcome()
	switch {
	case a.failed != "":
		why = a.failed
	case a.res.Error != "":
		why = a.res.Error
	case oerr != nil:
		why = oerr.Error()
	case again.Status != search.Done || again.Reward != r.Outcome.Reward || a.res.Model == "":
		why = fmt.Sprintf("trained again it gave %s, reward %v (not %v)", again.Status, again.Reward, r.Outcome.Reward)
		if a.res.Model != "" {
			_ = e.models.Delete(ctx, a.res.Model)
		}
	default:
		b, err := e.takeModel(ctx, a.res.Model)
		if err == nil {
			e.count(func(s *Stats) { s.ModelsRetrained++ })
			return b, nil
		}
		why = err.Error()
	}
	e.count(func(s *Stats) { s.ModelsUnavailable++ })
	return nil, fmt.Errorf("dist: trial %d: its model is unavailable: %s", r.Index, why)
}

func (e *Evaluator) count(f func(*Stats)) {
	e.mu.Lock()
	f(&e.stats)
	e.mu.Unlock()
}

// onResult takes a result message: the first for a trial being evaluated
// wins, and is acked once the search has committed it (Committed); one
// for a trial answered already, or in the store, is counted and acked;
// one for no trial in flight is kept, unacked, for Evaluate (a resumed
// search asking for a trial a worker finished meanwhile).
func (e *Evaluator) onResult(msg jetstream.Msg) {
	r, err := DecodeResult(msg.Data())
	if err != nil {
		e.cfg.Logger.Error("dist: rejected a result message", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	k := key(r.RunID, r.Index)
	if r.ShipModel {
		k += "#model"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.waiting[k]
	switch {
	case e.taken[k] || (e.final[r.Index] && !r.ShipModel):
		e.stats.Duplicates++
		e.cfg.Logger.Info("dist: duplicate result ignored (the first one won)", "trial", r.Index, "worker", r.Worker, "delivery", r.Delivery)
		_ = msg.Ack()
	case w != nil && w.sum == r.Trial:
		e.taken[k] = true
		e.stats.Results++
		if r.ShipModel {
			_ = msg.Ack() // the trial's row holds the first result
		} else {
			e.held[r.Index] = msg
		}
		w.done <- answer{res: r}
	case w != nil || r.RunID != e.cfg.RunID || r.ShipModel:
		if r.Model != "" {
			_ = e.models.Delete(context.Background(), r.Model)
		}
		e.stats.Stale++
		e.cfg.Logger.Info("dist: result for another trial ignored", "trial", r.Index, "worker", r.Worker)
		_ = msg.Ack()
	default:
		if old, ok := e.kept[k]; ok && old.res.Trial == r.Trial && old.res.Seq != r.Seq {
			// Two results kept for one trial: one is enough.
			e.stats.Duplicates++
			_ = msg.Ack()
			return
		}
		e.kept[k] = keptResult{res: r, msg: msg}
	}
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
		e.deleteMsg(a.StreamSeq)
	}
}

// onTerminated fails a trial a worker refused.
func (e *Evaluator) onTerminated(m *nats.Msg) {
	var a advisory
	if err := json.Unmarshal(m.Data, &a); err != nil {
		e.cfg.Logger.Error("dist: unreadable terminated advisory", "err", err)
		return
	}
	e.mu.Lock()
	ours := e.deleted[a.StreamSeq]
	e.mu.Unlock()
	if ours {
		return // deleted here, not refused
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
