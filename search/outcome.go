package search

import "fmt"

// The rules that turn what happened to a trial into its final record. They
// are pure functions of their arguments; the loop (run.evaluate) only
// schedules.

// proposalFailed is the record of a proposal that is not an architecture of
// the space: failed, with the penalty.
func proposalFailed(rec Record, err error, o Options) Record {
	rec.Status, rec.Reward, rec.Error = Failed, o.Penalty, err.Error()
	return rec
}

// duplicateOf is the record of a trial whose canonical architecture trial j
// (src) already evaluated: its outcome reused, nothing trained.
func duplicateOf(rec Record, src Record, j int) Record {
	rec.Status, rec.Reward, rec.ValAcc, rec.Params, rec.FLOPs, rec.DupOf = Duplicate, src.Reward, src.ValAcc, src.Params, src.FLOPs, j
	rec.Error = src.Error
	return rec
}

// finalRecord is the record of an evaluated trial, given the evaluator's
// outcome and error and the best Done trial so far (nil: none):
//
//   - an evaluator error: Failed, the penalty, the error's text;
//   - Done or Stopped with a finite reward: that status and the reward, or
//     the cost objective's (Options.Cost) when it is on (Failed if the cost
//     cannot be computed); a Stopped trial keeps its reason;
//   - Diverged, Oversized or Failed: that status, the penalty, the reason;
//   - anything else (another status, a non-finite reward): Failed, the
//     penalty, a reason saying what the evaluator returned.
//
// The ValAcc, Params, FLOPs, Seconds and Worker of the outcome are kept in every
// case. The model returned is the outcome's (non-nil: empty when the
// evaluator gave none) when the trial is Done and better than best, the new
// best model; else nil.
func finalRecord(rec Record, out Outcome, evalErr error, o Options, best *Record) (Record, []byte) {
	rec.ValAcc, rec.Params, rec.FLOPs, rec.Seconds, rec.Worker = out.ValAcc, out.Params, out.FLOPs, out.Seconds, out.Worker
	switch {
	case evalErr != nil:
		rec.Status, rec.Reward, rec.Error = Failed, o.Penalty, evalErr.Error()
	case (out.Status == Done || out.Status == Stopped) && finite(out.Reward):
		obj, err := o.Cost.apply(out.Reward, out.FLOPs, out.Params)
		if err != nil {
			rec.Status, rec.Reward, rec.Error = Failed, o.Penalty, err.Error()
			break
		}
		rec.Status, rec.Reward = out.Status, obj
		if out.Status == Stopped {
			rec.Error = out.Reason
			break
		}
		if best == nil || better(rec, *best) {
			model := out.Model
			if model == nil {
				model = []byte{}
			}
			return rec, model
		}
	case out.Status == Diverged || out.Status == Oversized || out.Status == Failed:
		rec.Status, rec.Reward, rec.Error = out.Status, o.Penalty, out.Reason
	default:
		rec.Status, rec.Reward = Failed, o.Penalty
		rec.Error = fmt.Sprintf("evaluator returned status %v, reward %v: %s", out.Status, out.Reward, out.Reason)
	}
	return rec, nil
}
