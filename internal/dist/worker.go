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
	// Logger receives the worker's log; nil: discarded.
	Logger *slog.Logger
}

// RunWorker pulls trials one at a time (per Parallel slot) from the shared
// consumer, trains each, publishes its result and then acks the trial
// message, until ctx is cancelled: a trial in hand then goes back to the
// queue (Nak) and RunWorker returns nil. It waits for the search to create
// the streams. A malformed trial message is refused (Term, with the
// reason, logged) and the worker goes on.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	if cfg.Conn == nil || cfg.Evaluator == nil || cfg.Name == "" {
		return fmt.Errorf("dist: worker: a connection, an evaluator and a name are required")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
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
	w := &worker{cfg: cfg, js: js, cons: cons, models: obs, heartbeat: hb}
	cfg.Logger.Info("worker ready", "name", cfg.Name, "parallel", cfg.Parallel)
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Parallel)
	for range cfg.Parallel {
		wg.Go(func() { errs <- w.slot(ctx) })
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

type worker struct {
	cfg       WorkerConfig
	js        jetstream.JetStream
	cons      jetstream.Consumer
	models    jetstream.ObjectStore
	heartbeat time.Duration
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
			w.handle(ctx, msg)
		}
		cancel()
	}
	return nil
}

// handle trains one delivered trial.
func (w *worker) handle(ctx context.Context, msg jetstream.Msg) {
	log := w.cfg.Logger
	var delivery, seq uint64
	if md, err := msg.Metadata(); err == nil {
		delivery, seq = md.NumDelivered, md.Sequence.Stream
	}
	m, err := DecodeTrial(msg.Data())
	if err != nil {
		log.Error("rejected a trial message", "subject", msg.Subject(), "seq", seq, "bytes", len(msg.Data()), "err", err)
		_ = msg.TermWithReason(err.Error())
		return
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
	res := ResultMsg{Version: messageVersion, RunID: m.RunID, Index: m.Trial.Index, Arch: m.Trial.Arch, Seed: m.Trial.Seed,
		Worker: w.cfg.Name, Delivery: delivery}
	out, err := w.evaluate(ctx, m)
	stopHB()
	hb.Wait()
	if ctx.Err() != nil {
		// Stopped (Ctrl-C): the trial goes back to the queue at once.
		log.Info("stopping: trial back to the queue", "index", m.Trial.Index)
		_ = msg.Nak()
		return
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.Outcome = outcomeMsg(out)
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = m.Key() + ".d" + seqString(delivery)
	}
	if len(out.Model) > 0 {
		pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, perr := w.models.PutBytes(pctx, id, out.Model)
		cancel()
		if perr != nil {
			log.Error("store the model: trial back to the queue", "index", m.Trial.Index, "err", perr)
			_ = msg.Nak()
			return
		}
		res.Model = id
	}
	if err := w.publish(res, id); err != nil {
		log.Error("publish the result: trial back to the queue", "index", m.Trial.Index, "err", err)
		_ = msg.Nak()
		return
	}
	// The result is in the results stream (stored by the server): the
	// trial is done.
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("ack (the search de-duplicates a redelivery)", "index", m.Trial.Index, "err", err)
	}
	cancel()
}

func (w *worker) evaluate(ctx context.Context, m TrialMsg) (out search.Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("worker %s: panic: %v", w.cfg.Name, p)
		}
	}()
	ev, err := w.cfg.Evaluator(m)
	if err != nil {
		return search.Outcome{}, err
	}
	return ev.Evaluate(ctx, m.Trial)
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
