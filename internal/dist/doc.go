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
// child options with the data set's name, early-stopping thresholds) with
// a message id, and waits for the result. A worker slot fetches one
// message only when idle (no prefetch: slow work does not starve the
// others), reports it in progress every AckWait/3 while it trains, puts a
// Done child's model in the object store ModelBucket, publishes a
// ResultMsg on ResultStream (nas.results.<run id>, with the trial message's
// id: a retried publication is dropped by JetStream) and, once the server
// has stored the result, acks the trial (DoubleAck).
//
// Why the worker acks after publishing rather than after the search's
// commit: the result is durable in the stream from then on, so a worker
// does not depend on the search being alive to finish a trial, and a slow
// or restarting search does not make the server redeliver (and a worker
// retrain) a trial that is done. The search's side is idempotent instead:
// results are taken by trial key (run id and index), the first one wins,
// and a later one (a trial redelivered and trained twice, a late ack) is
// ignored and counted (Stats.Duplicates), as is one for no trial in flight
// (Stats.Stale). The search acks a result once Evaluate has handed it over;
// search.Run commits it to nas.db as Evaluate returns, and a search killed
// in between re-runs the trial on resume (its row is still running), so
// the SQLite key stays the real guard and the store's only writer is the
// search.
//
// # Faults
//
//   - A worker killed mid-trial (SIGKILL, its machine gone): no heartbeat,
//     so the server redelivers the trial after AckWait to another worker.
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
