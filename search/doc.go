// Package search runs Neural Architecture Search: a strategy proposes
// architectures of an onnxgen search space, an Evaluator trains and scores
// them, and every trial is recorded in a run directory that survives a
// crash.
//
// # The loop
//
// A search proceeds in iterations of M trials (Options.M, default 8);
// iteration k holds trials k·M … (k+1)·M−1. Every architecture of an
// iteration has the same depth, from the paper's schedule: the iteration
// whose first trial is s has min(MaxLayers, StartLayers +
// LayerStep·⌊s/LayerEvery⌋) layers (defaults: start at min(6, MaxLayers),
// +2 layers, and LayerEvery scaled to the budget, see Options.LayerEvery).
// An iteration:
//
//  1. the strategy proposes M architectures (all M also when the trial
//     budget ends inside the iteration: only the first are trials); each
//     is parsed by the space and written in canonical form
//     (onnxgen.Format), and the iteration's proposals are recorded (the
//     table sampled) before any of its trials starts;
//  2. each trial is evaluated by up to Parallel concurrent Evaluate calls,
//     except a duplicate: a canonical architecture already evaluated (Done,
//     Stopped, Diverged or Oversized) by an earlier trial is not trained again, its
//     outcome and reward are reused (status duplicate, dup_of the lowest
//     such index; an identical trial waits for an earlier one still
//     training, of its iteration or of an earlier one in flight);
//  3. every trial ends with a status; a trial that is not Done (failed to
//     compile, rejected by ONNX Runtime, diverged, oversized, or an
//     infrastructure error from Evaluate) gets the reward Options.Penalty,
//     and the search goes on, unless the last MaxFailures trials (index
//     order) all failed: then Run stops with ErrTooManyFailures; with a
//     cost objective (Options.Cost, MnasNet's) a Done trial's reward is
//     the evaluator's times (cost/target)^w; with early stopping
//     (Options.EarlyStop, the median stopping rule) a child below the
//     median of earlier trials after an epoch ends Stopped, with the reward
//     of the epochs it ran;
//  4. the iteration is applied: the strategy observes its rewards (only a
//     complete iteration of M trials: rl's update), and the MaxFailures
//     rule is checked.
//
// # Iterations in flight
//
// Options.InFlight (D, default 1) is how many iterations are sampled and
// not yet applied at once. The schedule is fixed by D, not by timing:
// iterations are applied in iteration order, each once its trials are
// final, and iteration j is sampled as soon as iterations 0 … j−D are
// applied, from exactly that state: rl's controller after the update of
// iteration j−D (and the samples of iterations j−D+1 … j−1 drawn from its
// RNG), evolution's population and the early-stopping thresholds from the
// trials of iterations 0 … j−D. The events are: sample 0 … D−1; apply 0,
// sample D; apply 1, sample D+1; … (a due sample comes before the next
// apply). Meanwhile the trials of every iteration in flight run through
// the one Evaluator, up to Parallel at once in index order, so that an
// evaluator with more slots than M (internal/dist's workers) is not left
// idle while an iteration waits for its last child. With D = 1 this is
// the one-iteration-at-a-time search (the same trials, rewards,
// checkpoint and best model as before InFlight existed: checked with the
// fake evaluator for every strategy, and with nas search --trials 24
// --seed 1 on digits, whose trial table and best.onnx are byte for byte
// those of the earlier binary); with any D the same seed gives the same
// results however long the trials take (the same nas search with
// --in-flight 2 at --parallel 1 and 2: the same table). The
// order in which updates were applied is recorded implicitly: the table
// sampled stores, with each iteration's proposals, how many iterations
// were applied when it was sampled (max(0, j−D+1)), and a resume replays
// that order. The budget ends sampling (Trials: the next iteration would
// start past it; Duration; cancellation), never an iteration in flight:
// the iterations sampled finish and are applied (a duration stop drains
// them; Ctrl-C leaves them resumable). All store writes, the hook and the
// run's state stay on the search's goroutine; the evaluations return on a
// channel.
//
// # Kinds and spaces
//
// A kind of child (Options.Kind; "cnn", the only one today) owns what the
// loop needs to know of it: its search space as a program of decisions
// (controller.Space: per layer, a Choice step per decision, then the
// anchors or the chain; for the CNN spaces kh, kw, sh, sw, f, the strides
// fixed in v1, then p (max pooling) in v3 and v3-wide only, so that the
// programs of v1 and v2 are what they were before pooling), how a written
// string becomes canonical (onnxgen), how a
// canonical string becomes a decision vector again (an evolution parent),
// and the depth schedule (Options.Schedule). Its training options
// (Options.Child) travel to the evaluator untouched in every Trial.
//
// Strategies (Options.Strategy), with the same budget, seeds and evaluator,
// all sampling and mutating the same decision vectors
// (controller.Space.Positions):
//
//   - rl (default): the controller (package controller), an LSTM policy.
//     Step 4 is one REINFORCE update over the M episodes,
//     ∇J = 1/M Σ_k Σ_t ∇ log p(a_t) (R_k − b), b an exponential moving average
//     of rewards, Adam; then the controller checkpoint is written atomically.
//     An incomplete last iteration makes no update: it waits for a resumed
//     run with a larger budget to complete it.
//   - random: every entry of the vector uniform over its options (a fixed
//     decision's one option still takes a draw), every anchor (skip
//     connection) with probability 1/2; trial i draws from a PCG seeded by
//     (Seed, i).
//   - evolution: regularized evolution (Real et al., 2019), batched: the
//     first Population trials are random; later, each trial's parent wins a
//     tournament of Tournament trials drawn without replacement from the
//     population, the last Population trials of the iterations applied
//     when its iteration is sampled (with D = 1 the trials before its
//     iteration; older ones are gone: aging), and the child changes one entry of its vector
//     (another option of one choice, kh/kw/sh/sw/f/p of one layer, or one
//     anchor flipped; drawn uniformly over the choices with two or more
//     options, then the anchors, in vector order). Trial i draws from a PCG
//     seeded by (Seed, i); the population comes from the trial table.
//
// Trial i is handed to the evaluator with Seed = TrialSeed(Options.Seed, i),
// which seeds the child's initialisation and data order.
//
// # Multi-fidelity: the rungs
//
// With Options.Rungs (Count R > 0; the zero value is off, and the run is
// then what it was before, bit for bit), the sampling is followed by
// successive halving (Li et al.'s Hyperband, one bracket): the trials are
// rung 0, each judged cheaply with the run's child options (TrainSize T
// images, Epochs E); rung r = 1 … R trains again, from scratch with the
// trial's own seed, the first ⌈n_{r−1}/η⌉ of rung r−1's ranking, n_{r−1}
// its length (rungCandidates; rung 1 takes at most Rungs.Max, default
// η^R, so that the top rung holds η architectures and each rung costs about
// what another does). Rung 0's ranking is the distinct Done trials by
// reward, lowest index on ties (finalCandidates' order); rung r's is its
// Done rows by the validation accuracy of their last epoch, lower trial
// index on ties. Rung r trains with η^r times rung 0's training
// (Options.RungChild): E epochs on T·η^r images while that is below the
// whole training split, else the whole split (TrainSize 0) for max(E,
// round(E·η^r/scale)) epochs, scale the split's images over T
// (Config.FinalScale); the learning-rate schedule and every other child
// option are the run's, and the validation split is the search's, held
// out, so every rung's accuracies are on one scale. The promotions are
// trained by Config.RungEvaluator (default FinalEvaluator, else Evaluator),
// up to Parallel at once, in rank order, by the same machinery as the
// final candidates (trainBatch: the rule of two attempts, cancellation).
//
// Which reward each strategy learns from: the controller (rl), random and
// evolution learn from rung-0 rewards only. Every trial has one, at one
// fidelity (the run's child options), so REINFORCE's rewards, its
// baseline and evolution's tournaments stay on one scale; a promotion's
// score never reaches a strategy, and the trial table, best_model and the
// strategy's state are exactly a run's without the rungs (with a duration,
// the sampling ends earlier: below).
//
// Which trial is "the best": the highest fidelity wins (fidelityRanking):
// a trial ranks by the highest rung where it has a Done row, then by its
// score there (the rung's last-epoch validation accuracy; the search
// reward at rung 0), then the lower index. The best row of the highest
// rung is the top (rung_model); without a final phase best.onnx is its
// model. Summary.Best stays the best trial by reward (rung 0).
//
// # The final training
//
// With Options.Final (K > 0; the zero value has no final phase), the
// sampling budget (and the rungs) are followed by the paper's last step
// inside the search. The candidates are the first K of fidelityRanking:
// without rungs the K Done trials of the highest reward (lowest index on
// ties), one per architecture (finalCandidates), with rungs the highest
// rung's best first; each is trained again
// from scratch, from its trial's seed, with Options.FinalChild: the run's
// child options with Final.Epochs epochs (default 10), the learning rate
// annealed with a half cosine, and the whole training split (TrainSize 0;
// the validation split is the search's and stays held out, the test split
// unseen), by Config.FinalEvaluator (default Evaluator), up to Parallel at
// once, in rank order. The chosen candidate is the Done one with the
// highest validation accuracy of its last epoch (the accuracy of the
// weights its model holds), the lower rank on ties: its model is the run's
// model (final_model, best.onnx). With a trial budget, the trial table,
// best_model and the strategy's state are exactly those of a run without
// the final phase (with a duration, the sampling ends earlier: below).
//
// # The budget
//
// Duration covers the sampling, the rungs and the final phase. While the
// search samples, an iteration starts only before Duration − F has
// elapsed (finalReserve), F the wall time of the last iteration plus the
// prediction for the rungs and the final phase with the candidates of the
// moment (predict): every candidate is predicted to take the slowest
// time per unit of work among the plausible ones (the first phase's count
// of fidelityRanking plus M: the next iteration may bring new winners, as
// it did in the README's measured make search; each one's latest
// measurement: its highest Done rung's seconds over that rung's work, else
// its trial's seconds) × its phase's work (images × epochs over rung 0's:
// η^r for rung r, scale × Final.Epochs / E for the final), in rounds of
// Parallel, the phases one after the other (predictPhases), a candidate
// alone with s > 1 slots (Trial.Slots: a phase of n < Parallel candidates
// gives each Parallel/n) counted slotSpeedup(s) = 0.8·s times as fast.
// FinalShare caps F at that share of Duration, so that the sampling keeps
// the rest however slow the candidates of the moment look (the cap is
// make search's rule: 0.6). Without rungs and final phase F is 0 (the
// iteration in flight may then end past Duration). The prediction is made
// again when each rung and the final phase begin, with their own
// candidates; the final phase's, when its evaluator is a Timer, from each
// candidate's timed probe at its slots (fixed + perEpoch × epochs; the
// in-process evaluator's probe trains 160 steps, times the second half
// and validates once). When
// it exceeds the time left the plan is shrunk step by step (fit, shrink):
// one final candidate fewer down to one, then the top rungs not begun
// dropped, then one final epoch fewer down to one; each shrink is logged,
// reported (a Shrunk event, Summary.Shrunk) and recorded (fewer rows in
// the rung and final tables, the final rows' epochs). In the rungs and the
// final phase a candidate starts only while Duration has not elapsed,
// except the final phase's first (a run always gets a model; the smallest
// plan runs even when predicted too long); one not started stays pending
// for a resume. With a trial budget alone nothing is shrunk: the sampling
// runs all Trials, then every rung, then the final phase all K.
//
// # The run directory
//
//	nas.db           SQLite database (WAL mode, synchronous FULL)
//	controller.ckpt  the rl controller after the last update (atomic; with
//	                 iterations in flight it has also drawn the samples of
//	                 the iterations sampled before that update)
//	best.onnx        the run's model (atomic): the chosen final candidate's
//	                 when there is one, else the top rung's (rung_model),
//	                 else the best Done trial's
//
// A run exists when nas.db does: a new run's database (schema and run row)
// is built in a temporary file and written to nas.db with the atomic writer,
// so a kill during creation leaves no nas.db. A nas.db without a run row
// (an empty file, or an earlier version's interrupted creation) is replaced
// by a new run and refused by a resume ("no run recorded"); a new run
// refuses a directory that holds a run's file without a run
// (controller.ckpt, best.onnx, nas.db-wal) or a nas.db that is not a run's,
// and changes nothing in it (CheckNewRunDir says so before any work).
//
// nas.db's schema (SchemaVersion 7; version 1 lacked the status stopped,
// version 2 the attempts and the model's checksum, version 3 the worker,
// version 4 the tables final and final_model, version 5 the tables rung
// and rung_model and final's epochs, version 6 the table sampled; all are
// still read, and a resume upgrades them):
//
//	run(id = 1, version INTEGER, created TEXT (RFC 3339), config TEXT)
//	    config is the JSON of Options with every default resolved, the
//	    controller's included, under snake_case keys. Runs written before
//	    (controller keys such as "EntropyWeight", zeros meaning defaults,
//	    no "kind") are read with those meanings and resume unchanged.
//	trial(idx INTEGER PRIMARY KEY, iteration, arch TEXT, layers, strategy,
//	      status ∈ {running, done, failed, diverged, oversized, duplicate,
//	      stopped},
//	      reward REAL, val_acc TEXT (JSON array, per epoch), params, flops,
//	      seconds REAL, error TEXT, dup_of INTEGER (NULL unless duplicate),
//	      seed INTEGER (the trial's uint64 seed, bit-cast), started, finished,
//	      attempts INTEGER (how many times the trial was handed to an
//	      evaluator; a version-2 running row counts 1),
//	      worker TEXT (the worker process that trained it, Outcome.Worker;
//	      '' for the search's own process and before version 4))
//	best_model(idx INTEGER PRIMARY KEY, onnx BLOB, sha256 TEXT (hex))
//	    one row: the model of the best Done trial (highest reward, lowest
//	    index on ties), as the search trained it.
//	final(trial INTEGER PRIMARY KEY (the candidate's trial), rank,
//	      arch, status ∈ {running (attempts 0: pending), done, failed,
//	      diverged, oversized}, val_acc TEXT (JSON, per epoch), params,
//	      flops, seconds, error, seed, attempts, started, finished,
//	      epochs (fewer than Final.Epochs when shrunk; 0 in a version-5
//	      row: Final.Epochs))
//	    a row per final candidate, all of a phase's written (pending) in
//	    one transaction when the phase begins.
//	rung(rung, trial (PRIMARY KEY (rung, trial)), rank (in rung−1's
//	     ranking), arch, status (as final's), train_size (0: the whole
//	     split), epochs, val_acc, params, flops, seconds, error, seed,
//	     attempts, started, finished)
//	    a row per promotion: a trial's fidelity is the run's child options
//	    (the trial table is rung 0), a promotion's its train_size and
//	    epochs; all of a rung's rows are written (pending) in one
//	    transaction when the rung begins.
//	rung_model(trial INTEGER PRIMARY KEY, onnx BLOB, sha256 TEXT)
//	    one row: the model of the best row of the highest rung (its
//	    trial's highest Done rung); best.onnx copies it when there is no
//	    final model.
//	final_model(trial INTEGER PRIMARY KEY, onnx BLOB, sha256 TEXT)
//	    one row: the chosen final candidate's model; best.onnx copies it.
//	sampled(iteration INTEGER PRIMARY KEY, updates INTEGER, proposals TEXT)
//	    a row per sampled iteration, committed before any of its trials
//	    starts: the number of iterations applied when it was sampled, and
//	    its M proposals (JSON array of {arch, layers, choices}: the
//	    string as proposed, canonical when valid, its depth and decision
//	    vector), the trial budget's cut included.
//
// A trial record is its row: a "running" row (its attempts one more than
// before) is written when it is handed to the evaluator, and replaced by
// its final row when it ends; a new best trial's row and its model, with
// the model's sha256, are committed in one transaction, then best.onnx is
// rewritten from it (temporary file, fsync, rename). Only the best model
// is kept. A final candidate's row is written the same way, with the model
// in final_model when it becomes the chosen one. best.onnx is a copy of
// final_model when that has a row, else of best_model: readers take the
// model from nas.db (ReadFinalModel, ReadBestModel, which verify the
// checksum; RunState.Model says which one best.onnx copies). The best
// trial's model stays in best_model (nas export --trial N exports it).
//
// # Resume
//
// Run with Config.Resume continues a run directory left by a finished,
// cancelled (Ctrl-C) or killed (even SIGKILL, at any point) process: the
// stored options apply (only the budget fields may change); completed
// trials are never re-run or lost; the controller continues from its
// checkpoint. Every proposal is a function of saved state (rl: the
// checkpoint, written after each update, which holds the weights, Adam
// moments, baseline and the sampler's RNG state; random and evolution: the
// seed and the trial table) and of the sampled table. A resume starts from
// the state saved: rl's checkpoint has applied Steps() iterations and has
// drawn the samples of the iterations whose sampled row counts fewer
// updates than that (they were sampled before its last update; their
// proposals come from their rows); random and evolution keep no state and
// replay from iteration 0. From there the loop replays the schedule: an
// iteration that has a row is sampled again once exactly its recorded
// number of iterations is applied, and must propose what its row holds
// (else ErrInconsistent). A crash between a row's commit and the next
// checkpoint loses nothing: the row is re-sampled from the checkpoint and
// verified; the checkpoint is never ahead of nas.db (it is written after
// an update, whose inputs are committed rows). So the resumed run keeps
// the finished trials (checking their architectures match), evaluates the
// rest, and — with a deterministic evaluator and no trial killed twice —
// ends with exactly the trials and controller weights of a run never
// interrupted, for any D. Options.InFlight is stored with the run: a
// resume keeps it and refuses another. A resume that extends the budget
// of a run that ended (Trials, Duration) continues from the state in which
// that run ended, every complete iteration applied; with D > 1 the
// iterations sampled after the old budget are therefore not those of a
// run that had the larger budget from the start (with D = 1 they are, as
// before). A database of version 5 or earlier has no sampled table: it
// ran one iteration at a time, and its resume re-proposes as it did.
//
// The directory is checked before it is changed: the run row is read
// read-only first; the trials before the strategy's first iteration must
// be final; the stored best model must be the table's best and match its
// checksum (a damaged blob is restored from best.onnx when that file
// matches, else the resume fails with ErrInconsistent). Only then is an
// older schema upgraded, the new budget stored and best.onnx rewritten
// from nas.db. "running" rows are kept until their trial's new row
// replaces them (one that is not the trial proposed again, written by hand
// or another version, holds no result: it is replaced, its attempts not
// carried over).
//
// A trial still "running" with two attempts was running each of two times
// the process died (the kernel's OOM killer kills the whole search for a
// child that exhausts memory): it is recorded Failed, with the penalty and
// the error "killed the search twice while training (out of memory?)",
// instead of being trained a third time, and later trials of the same
// architecture reuse that record (Duplicate). A cancelled evaluation
// (ctx) gives its attempt back. Every trial running when the process died
// is counted, the innocent neighbours of a Parallel search included. An
// evaluator whose children train in other processes (Isolated, as
// internal/dist's workers) turns this rule off: its children cannot kill
// the search, and it fails a trial that kills its workers itself.
//
// An evaluator whose work outlives the search's process (a Reconciler, as
// internal/dist's queue) is told, once the run is loaded and before any
// evaluation, which trials the store holds final rows for, and after each
// commit which trial was committed: it can drop what it kept for those,
// and acknowledge a result only once it is in nas.db. A Done outcome
// without a Model but with FetchModel (a worker keeps the model) has its
// model fetched only if the trial becomes the best so far; if that fails,
// the best model is recorded empty (unavailable), as for an evaluator that
// returns none, and the search goes on.
//
// The rungs and the final phase resume too. A resume that sets no new
// budget (Trials and Duration zero) of a run whose rungs or final phase
// have begun (their tables have rows) samples nothing: each rung or final
// phase with rows trains exactly its rows still pending or interrupted
// (with the rule of two attempts above; a finished one, done or failed,
// never again), a rung without rows below a phase with rows stays dropped,
// and a phase not begun is planned as in a new run (with the resume's own
// Duration, counted from its start); after complete phases it trains
// nothing. A rung's pending row keeps the fidelity it was written with.
// A resume with a new budget samples on, then runs the rungs and the
// final phase over the new candidates, training only those without a row
// (the pick is over every Done row; every Done row of a rung counts in its
// ranking); best.onnx stays the final (or top rung's) model meanwhile. A
// damaged final_model blob is restored from best.onnx when that matches
// its checksum (then a damaged best_model cannot be: best.onnx is not its
// copy); a damaged rung_model blob likewise, when there is no final model
// (verifyModel).
//
// # Reading a run
//
// ReadRun, ReadRunState and ReadBestModel read a run directory while a
// search may be writing it (in this process or another): they open nas.db
// read-only (mode=ro, a busy timeout; no schema is created, so an empty or
// foreign nas.db fails with "no run recorded"), and in WAL mode a reader
// never blocks the writer. On a read-only directory or mount, where no
// -shm file exists (no process has the database open) and none can be
// made, the database is read as immutable. ReadRunState reads the options, the trial table and
// the best model's index in one read transaction.
//
// # Progress
//
// A Hook receives typed events (*TrialStarted, *TrialFinished,
// *IterationDone, *BestChanged, *RungStarted, *RungFinished, *Shrunk,
// *FinalStarted, *FinalFinished) from the search's goroutine; the log goes
// to the injected *slog.Logger. Budget: Options.Trials and/or
// Options.Duration (checked before each iteration is sampled). Cancelling ctx stops
// the evaluations in flight (their rows stay "running") and Run returns
// the context's error, the directory resumable.
//
// # Errors
//
// The rules that turn an evaluator's outcome into a record (status,
// penalty, cost objective, whether the model is the new best; a proposal
// outside the space; a duplicate) are pure functions (outcome.go); the loop
// only schedules.
//
// Errors start with "search: ". Run fails on invalid options, a directory
// that already holds a run (new) or none (resume), a database error, an
// inconsistent directory (ErrInconsistent), MaxFailures consecutive
// failures (ErrTooManyFailures), cancellation (wrapping ctx.Err()), and a
// Reconciler's error. The Evaluator's errors never stop a search: they are
// recorded.
//
// search builds without cgo: it never imports runner; the in-process
// evaluator that trains with ONNX Runtime is internal/localeval, wired by
// cmd/nas.
package search
