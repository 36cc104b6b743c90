package search

// A trial that kills the search: the rule for a trial whose row was still
// "running" when the process died (SIGKILL, the kernel's OOM killer).

// maxAttempts is how many times a trial may be running when the search's
// process dies: a resumed run that finds a "running" row with this many
// attempts records it Failed instead of training it again (a child that
// exhausts memory would kill every resumed run).
const maxAttempts = 2

// crashReason is the error of a trial recorded by crashed.
const crashReason = "killed the search twice while training (out of memory?)"

// crashed is the record of a trial that was running each of the
// maxAttempts times the process died: failed, with the penalty. Its
// outcome is reused by later identical architectures (duplicates), which
// would kill the process again.
func crashed(rec Record, o Options) Record {
	rec.Status, rec.Reward, rec.Error = Failed, o.Penalty, crashReason
	return rec
}

// isCrash says whether a final record is crashed's.
func isCrash(rec Record) bool {
	return rec.Status == Failed && rec.Attempts >= maxAttempts && rec.Error == crashReason
}
