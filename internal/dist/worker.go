package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/nas-project/nas/search"
)

// EvaluatorFor returns the evaluator that trains a trial message's trial:
// cmd/nas loads the data the message names (data set, sizes, the split's
// seed) and trains with localeval; tests give a fake.
type EvaluatorFor func(m TrialMsg) (search.Evaluator, error)

// WorkerConfig configures a worker.
type WorkerConfig struct {
	// Conn is the connection to the NATS server. Required; RunWorker does
	// not close it.
	Conn *nats.Conn
	// Name names the worker in results (and so in the trial table).
	// Required.
	Name string
	// Parallel is the number of trials trained at once, each pulled alone.
	// Zero means 1.
	Parallel int
	// Evaluator trains the trials. Required.
	Evaluator EvaluatorFor
	// Heartbeat is how often a trial in hand is reported in progress.
	// Zero means a third of the consumer's AckWait.
	Heartbeat time.Duration
	// KeepModels is how many trained models the worker keeps for the
	// search to ask for (the most recent; an older one is dropped). Zero
	// means 8.
	KeepModels int
	// StopGrace is how long an evaluator may run past its trial's time
	// limit before the worker gives the trial up as hung: it reports the
	// trial failed and RunWorker returns an error (the evaluator's
	// goroutine cannot be stopped; restart the process). Zero means 10s.
	StopGrace time.Duration
	// Logger receives the worker's log; nil: discarded.
	Logger *slog.Logger
}

// RunWorker pulls trials one at a time (per Parallel slot) from the shared
// consumer, trains each, publishes its result and then acks the trial
// message, until ctx is cancelled: a trial in hand then goes back to the
// queue (Nak) and RunWorker returns nil. It waits for the search to create
// the streams. A malformed trial message is refused (Term, with the
// reason, logged) and the worker goes on. A trial past its time limit is
// reported failed; one whose evaluator does not return StopGrace later is
// reported failed too, and RunWorker returns an error (ErrHung).
//
// A Done trial's model stays with the worker (the KeepModels most recent)
// until the search asks for it, which it does only for a trial that
// becomes the best so far.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	if cfg.Conn == nil || cfg.Evaluator == nil || cfg.Name == "" {
		return fmt.Errorf("dist: worker: a connection, an evaluator and a name are required")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.KeepModels <= 0 {
		cfg.KeepModels = 8
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return fmt.Errorf("dist: %w", err)
	}
	var cons jetstream.Consumer
	waited := false
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cons, err = js.Consumer(cctx, TrialStream, Consumer)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("dist: worker: %w", err)
		}
		if !waited {
			cfg.Logger.Info("waiting for a search to create the trial queue")
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	hb := cfg.Heartbeat
	if hb == 0 {
		hb = cons.CachedInfo().Config.AckWait / 3
		if hb <= 0 {
			hb = 10 * time.Second
		}
	}
	obs, err := js.ObjectStore(ctx, ModelBucket)
	if err != nil {
		return fmt.Errorf("dist: worker: object store %s: %w", ModelBucket, err)
	}
	w := &worker{cfg: cfg, js: js, cons: cons, models: obs, heartbeat: hb, modelAt: modelPrefix + nuid.Next(), kept: map[string][]byte{}}
	sub, err := cfg.Conn.Subscribe(w.modelAt, w.serveModel)
	if err != nil {
		return fmt.Errorf("dist: worker: %w", err)
	}
	defer sub.Unsubscribe()
	cfg.Logger.Info("worker ready", "name", cfg.Name, "parallel", cfg.Parallel)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Parallel)
	for range cfg.Parallel {
		wg.Go(func() {
			err := w.slot(ctx)
			if err != nil {
				cancel() // a hung slot: the others give their trials back
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrHung is wrapped by RunWorker's error when an evaluator ran past its
// trial's time limit and StopGrace: the trial was reported failed, the
// process should be restarted.
var ErrHung = errors.New("an evaluator did not stop after its trial's time limit")

type worker struct {
	cfg       WorkerConfig
	js        jetstream.JetStream
	cons      jetstream.Consumer
	models    jetstream.ObjectStore
	heartbeat time.Duration
	modelAt   string // the subject of model requests

	mu    sync.Mutex
	kept  map[string][]byte // trained models by trial sum
	order []string          // kept's keys, oldest first
}

// slot pulls and trains one trial at a time until ctx is done. There is no
// prefetch: a trial is requested only when the slot is idle.
func (w *worker) slot(ctx context.Context) error {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := w.cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			w.cfg.Logger.Warn("fetch", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for msg := range batch.Messages() {
			if err := w.handle(ctx, msg); err != nil {
				cancel()
				return err
			}
		}
		cancel()
	}
	return nil
}

// handle trains one delivered trial; an error (ErrHung) stops the slot.
func (w *worker) handle(ctx context.Context, msg jetstream.Msg) error {
	log := w.cfg.Logger
	var delivery, seq uint64
	if md, err := msg.Metadata(); err == nil {
		delivery, seq = md.NumDelivered, md.Sequence.Stream
	}
	m, err := DecodeTrial(msg.Data())
	if err != nil {
		log.Error("rejected a trial message", "subject", msg.Subject(), "seq", seq, "bytes", len(msg.Data()), "err", err)
		_ = msg.TermWithReason(err.Error())
		return nil
	}
	log.Info("trial", "run", m.RunID, "index", m.Trial.Index, "delivery", delivery, "arch", m.Trial.Arch)
	// Heartbeat while training, so a long trial is not redelivered.
	hctx, stopHB := context.WithCancel(ctx)
	var hb sync.WaitGroup
	hb.Go(func() {
		t := time.NewTicker(w.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	})
	sum := m.Sum()
	res := ResultMsg{Version: messageVersion, RunID: m.RunID, Index: m.Trial.Index, Arch: m.Trial.Arch, Seed: m.Trial.Seed,
		Trial: sum, ShipModel: m.ShipModel, Worker: w.cfg.Name, Delivery: delivery, Seq: seq}
	out, hung, err := w.evaluate(ctx, m)
	stopHB()
	hb.Wait()
	if ctx.Err() != nil && !hung {
		// Stopped (Ctrl-C): the trial goes back to the queue at once.
		log.Info("stopping: trial back to the queue", "index", m.Trial.Index)
		_ = msg.Nak()
		return nil
	}
	timedOut := m.TimeLimit > 0 && (hung || (err != nil && errors.Is(err, context.DeadlineExceeded)))
	switch {
	case hung:
		out = search.Outcome{Status: search.Failed, Reason: fmt.Sprintf("%s on worker %s, and its evaluator did not stop within %s (the worker restarts)",
			limitReason(m.TimeLimit), w.cfg.Name, w.cfg.StopGrace)}
		log.Error("trial hung past its time limit: reported failed; the worker stops", "index", m.Trial.Index, "limit", m.TimeLimit)
	case timedOut:
		out = search.Outcome{Status: search.Failed, Reason: fmt.Sprintf("%s on worker %s", limitReason(m.TimeLimit), w.cfg.Name), Seconds: out.Seconds}
		log.Warn("trial stopped at its time limit", "index", m.Trial.Index, "limit", m.TimeLimit)
	case err != nil:
		res.Error = err.Error()
	}
	res.Outcome = outcomeMsg(out)
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = m.Key() + ".d" + seqString(delivery)
	}
	if len(out.Model) > 0 && m.ShipModel {
		pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, perr := w.models.PutBytes(pctx, id, out.Model)
		cancel()
		if perr != nil {
			log.Error("store the model: trial back to the queue", "index", m.Trial.Index, "err", perr)
			_ = msg.Nak()
			return nil
		}
		res.Model = id
	} else if len(out.Model) > 0 {
		w.keep(sum, out.Model)
		res.ModelAt = w.modelAt
	}
	if err := w.publish(res, id); err != nil {
		log.Error("publish the result: trial back to the queue", "index", m.Trial.Index, "err", err)
		_ = msg.Nak()
		return nil
	}
	// The result is in the results stream (stored by the server): the
	// trial is done.
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("ack (the search de-duplicates a redelivery)", "index", m.Trial.Index, "err", err)
	}
	cancel()
	if hung {
		return fmt.Errorf("dist: worker %s: trial %d: %w (limit %s, then %s)", w.cfg.Name, m.Trial.Index, ErrHung, m.TimeLimit, w.cfg.StopGrace)
	}
	return nil
}

// limitReason is the reason of a trial failed by its time limit.
func limitReason(d time.Duration) string {
	return fmt.Sprintf("exceeded the per-trial time limit of %s", d)
}

// evaluate trains the trial under its time limit (the evaluator's context
// deadline). hung: the evaluator ran StopGrace past the limit without
// returning; it is left running.
func (w *worker) evaluate(ctx context.Context, m TrialMsg) (out search.Outcome, hung bool, err error) {
	ectx := ctx
	var grace <-chan time.Time
	if m.TimeLimit > 0 {
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeout(ctx, m.TimeLimit)
		defer cancel()
		t := time.NewTimer(m.TimeLimit + w.cfg.StopGrace)
		defer t.Stop()
		grace = t.C
	}
	type answer struct {
		out search.Outcome
		err error
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		defer func() {
			if p := recover(); p != nil {
				a.err = fmt.Errorf("worker %s: panic: %v", w.cfg.Name, p)
			}
			done <- a
		}()
		ev, err := w.cfg.Evaluator(m)
		if err != nil {
			a.err = err
			return
		}
		a.out, a.err = ev.Evaluate(ectx, m.Trial)
	}()
	select {
	case a := <-done:
		return a.out, false, a.err
	case <-grace:
		return search.Outcome{}, true, nil
	}
}

// keep keeps a trained model for the search to ask for, dropping the
// oldest beyond KeepModels.
func (w *worker) keep(sum string, model []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.kept[sum]; !ok {
		w.order = append(w.order, sum)
	}
	w.kept[sum] = model
	for len(w.order) > w.cfg.KeepModels {
		delete(w.kept, w.order[0])
		w.order = w.order[1:]
	}
}

// modelRequest asks a worker for the model of the trial with checksum
// Trial, to be put in ModelBucket as Name; the reply is a modelReply.
type modelRequest struct {
	Trial string `json:"trial"`
	Name  string `json:"name"`
}

type modelReply struct {
	Error string `json:"error,omitempty"`
}

// serveModel answers a request for a kept model: the model goes to
// ModelBucket (it may be larger than a message); the worker keeps it
// (the search may ask again).
func (w *worker) serveModel(m *nats.Msg) {
	reply := func(r modelReply) {
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	var req modelRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Name == "" {
		reply(modelReply{Error: fmt.Sprintf("bad model request %q", m.Data)})
		return
	}
	w.mu.Lock()
	model, ok := w.kept[req.Trial]
	w.mu.Unlock()
	if !ok {
		reply(modelReply{Error: fmt.Sprintf("worker %s no longer keeps the model (it keeps the last %d)", w.cfg.Name, w.cfg.KeepModels)})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := w.models.PutBytes(ctx, req.Name, model); err != nil {
		reply(modelReply{Error: fmt.Sprintf("worker %s: store the model: %v", w.cfg.Name, err)})
		return
	}
	w.cfg.Logger.Info("model sent to the search", "object", req.Name, "bytes", len(model))
	reply(modelReply{})
}

// publish puts a result on the results stream, retrying while the server
// is unreachable (the message id makes a retry harmless).
func (w *worker) publish(res ResultMsg, id string) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	var last error
	for try := range 20 {
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ack, err := w.js.PublishMsg(pctx, &nats.Msg{Subject: resultPrefix + res.RunID, Data: b}, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			if ack.Duplicate {
				w.cfg.Logger.Info("result already published (a redelivered trial)", "index", res.Index)
			}
			return nil
		}
		last = err
		time.Sleep(time.Duration(100*(try+1)) * time.Millisecond)
	}
	return last
}
