// Package serve is the live web view of searches behind `nas serve` and
// `nas search --serve`: a page over one or more run directories, read-only,
// served from assets embedded in the binary, that updates while a search
// (in this process or another) writes to them.
//
// # The run table
//
// New takes the run directories (Config.Dirs) and fixes the table of what
// is served once, at start-up: run i is Dirs[i], named by the path as
// given. A request names a run by its index and a trial by its index in
// the trial table; the files a run may serve are the fixed names nas.db
// (read through search.ReadRunState, read-only), best.onnx and
// retrained.onnx. No part of a request's path is ever joined to a file
// system path, and the embedded assets are a map built at start-up. A
// directory without nas.db is served as "no run recorded yet" (so the view
// can start before the search that fills it).
//
// # Endpoints
//
//	GET /                                    the page (index.html)
//	GET /static/NAME                         an embedded asset (app.js, app.css, vendor/uplot/...)
//	GET /api/runs                            every run's summary, JSON array
//	GET /api/runs/{run}                      one run: its summary and its trials
//	GET /api/runs/{run}/trials/{trial}/arch.svg
//	                                         the trial's architecture, drawn by internal/viz
//	                                         (Graphviz dot; a CNN's input size and classes are
//	                                         best.onnx's, so 404 before the run has a model;
//	                                         a cell is drawn as its tree), 503 without Graphviz
//	GET /api/runs/{run}/models/{name}        best.onnx or retrained.onnx, as a download
//	GET /api/events                          server-sent events: "change" with {"run": i,
//	                                         "version": v} when run i's data changed
//
// A run's summary holds its options, counts by status, the best trial
// (highest reward among done trials, the lowest index on ties, as search
// keeps it), the best validation accuracy of any done or stopped trial, the
// test accuracy found in its models' metadata (nas.test_accuracy, which
// nas retrain writes), the time of its last write, and a version: a digest
// of everything else, which changes exactly when the data does.
//
// A trial's validation score is an accuracy for a CNN and 1/perplexity for
// a cell (a run of kind rnn): higher is better for both, so the charts and
// the Pareto front treat them alike, but the pages label a cell run's
// scores "1/perplexity" and give the perplexity beside them
// (TestBrowserCellRun).
//
// # Live data
//
// A run's data is read again when one of its files (nas.db, nas.db-wal,
// best.onnx, retrained.onnx) changes size or modification time, and at
// least every RefreshEvery (five seconds) in case a change kept both. Each
// event stream checks every Config.Poll (one second): a search's new
// trial reaches an open page within about a second. A killed search leaves
// its trials "running"; they stay shown so until a resumed search deletes
// and re-runs them, which the page then shows.
//
// # Safety
//
// Only GET and HEAD; every response carries a content security policy
// without inline scripts or styles (default-src 'self'), nosniff,
// no-referrer and frame-ancestors 'none'; API responses are never cached
// (Cache-Control: no-store). A listen address other than loopback
// (127.0.0.0/8, ::1, localhost) needs Config.Token, and New refuses one
// without it. With a token, every request must carry it: a query parameter
// token=..., which also sets an HttpOnly, SameSite=Strict cookie, the
// cookie, or an Authorization: Bearer header; it is compared in constant
// time, and a request without it gets 401. Without a token (loopback), a
// request whose Host is not a loopback name gets 403, so a page of another
// site cannot reach the view by DNS rebinding. A path that is not in its
// clean form (.., //, encoded variants once decoded) gets 400.
//
// # Errors
//
// New's errors start with "serve: ": no directories, one that is not a
// directory, a bad listen address, a non-loopback address without a token.
// A run that cannot be read is served with its error in the summary
// (e.g. a database written by a newer nas), not as a failure of the view.
package serve
