// Package dist evaluates trials in worker processes, on this machine or on
// others, through NATS JetStream: Evaluator is a search.Evaluator for the
// search's side, RunWorker the worker's loop, Supervisor keeps N local
// worker processes alive, StartServer embeds a NATS server in the search.
// It never trains: a worker is given an EvaluatorFor (cmd/nas's trains
// with internal/localeval), so dist builds without cgo.
//
// # The model
//
// One work-queue stream, TrialStream (subjects nas.trials.<run id>, file
// storage, a 24 h duplicates window, messages up to MaxMessageBytes), and
// one durable pull consumer, Consumer, shared by every worker (explicit
// ack, AckWait, MaxDeliver; a work-queue stream refuses overlapping
// consumers). Evaluate publishes a TrialMsg (JSON: run id, the data
// split's seed, the search.Trial: index, iteration, architecture, seed,
// child options with the data set's name, early-stopping thresholds; the
// time limit) with a message id new for each publication, and waits for
// the result; Evaluate is safe for concurrent calls (each waits on its own
// trial's key), and a search with iterations in flight
// (search.Options.InFlight) makes them from several iterations at once
// (TestSearchInFlightThroughWorkers). A worker slot fetches one message only when idle (no
// prefetch: slow work does not starve the others), reports it in progress
// every AckWait/3 while it trains, publishes a ResultMsg on ResultStream
// (nas.results.<run id>, with the trial message's id: a retried
// publication is dropped by JetStream) and, once the server has stored
// the result, acks the trial (DoubleAck). A result names its trial by
// TrialMsg.Sum (run id, data seed, trial), so that it is taken only for
// the trial it answers.
//
// Why the worker acks after publishing rather than after the search's
// commit: the result is durable in the stream from then on, so a worker
// does not depend on the search being alive to finish a trial, and a slow
// or restarting search does not make the server redeliver (and a worker
// retrain) a trial that is done. The search's side is idempotent instead:
// results are taken by trial key (run id and index), the first one wins,
// and a later one (a trial redelivered and trained twice, a late ack, one
// for a trial the store has) is ignored and counted (Stats.Duplicates).
// The search acks a result only once search.Run has committed its trial
// to nas.db (search.Reconciler's Committed): a search killed before that
// is handed the result again when it resumes.
//
// # Models
//
// A worker keeps the model of each Done trial (WorkerConfig.KeepModels,
// the most recent) and the result says where to ask for it (ModelAt, a
// subject of the worker's). search.Run asks (Outcome.FetchModel) only for
// a trial that becomes the best so far: the worker puts the model in the
// object store ModelBucket (a model may be larger than a message), the
// search takes it and deletes it there. When that worker is gone (no
// responders, or no answer within Config.ModelTimeout) or no longer keeps
// the model, the trial is queued again with ShipModel: any worker trains
// it again and ships the model with its result, which the search takes if
// the outcome is the same (training is deterministic given the trial);
// otherwise the model is unavailable, and search.Run records the best
// model empty, as for an evaluator that returns none (Stats count each
// case).
//
// # A search that stops and resumes
//
// The streams outlive the search's process (an external server; the
// embedded one keeps its store in a directory of the run's, see cmd/nas).
// New reconciles what an earlier process of the run left: its trial
// messages are purged from the queue (Stats.Purged; the resumed search
// queues again what it still needs, and a worker that holds one finishes
// it and publishes its result); the results consumer is made anew, so
// that results delivered to the dead process and never acked come at
// once; results for no trial in flight are kept, unacked, and Evaluate
// takes the one for its trial without queuing it (Stats.Recovered: a
// worker finished it while the search was down); Reconcile drops those of
// trials the store already has. A resumed search therefore trains again
// only the trials no worker finished.
//
// # Time limits
//
// Config.TrialTimeout travels in the trial message and is the deadline of
// the evaluator's context on the worker: a trial still training then is
// reported Failed ("exceeded the per-trial time limit of ..."). An
// evaluator deaf to its context (a call stuck in C) is given
// WorkerConfig.StopGrace more; then the worker reports the trial Failed
// itself, acks it, and RunWorker returns ErrHung (its goroutine cannot be
// stopped: nas worker exits, and a supervised worker is restarted). A
// worker that hangs whole (stopped, its machine cut off) stops
// heartbeating: the server redelivers its trial after AckWait
// (Config.AckWait, nas search --ack-wait), and after MaxDeliver
// deliveries the trial is failed. So the search never waits on a trial
// longer than about MaxDeliver × (TrialTimeout + StopGrace + AckWait).
//
// # Faults
//
//   - A worker killed or frozen mid-trial (SIGKILL, SIGSTOP, its machine
//     gone): no heartbeat, so the server redelivers the trial after
//     AckWait to another worker.
//   - A trial delivered MaxDeliver times without a result (a child that
//     kills its worker each time; default 2): the server never redelivers
//     it and only the advisory $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES
//     says so; Evaluate returns it Failed with that reason and deletes the
//     message. A worker stopped by Ctrl-C gives its trial back (Nak),
//     which counts as a delivery too.
//   - A malformed message (not JSON of this version, incomplete, options
//     out of range, larger than MaxMessageBytes): the worker logs it
//     ("rejected a trial message", with the reason) and terminates it
//     (Term with the reason) without dying; a trial of the search's refused
//     this way is Failed with the reason ("refused by a worker: ...").
//   - Authentication: the server is given a token (or, an existing server,
//     its own accounts: a credentials file); a client without it, or with
//     a wrong one, is refused at connection ("authorization violation").
//     A server off loopback needs a token (ServerOptions.Validate).
//
// Evaluator implements search.Isolated: children cannot kill the search,
// so the search's killed-twice rule is off and MaxDeliver plays its part.
package dist
