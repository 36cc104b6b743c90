package serve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/nas-project/nas/search"
)

// chromium finds Debian's chromium (scripts/test-deps.sh installs it).
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on the PATH: the browser tests need Debian's chromium (make test-deps installs it; go test -short skips them)")
	return ""
}

// browser starts a headless chromium with the flags that work as root in
// a container, and collects the page's console errors, uncaught exceptions
// and error log entries (a CSP violation or a failed load is one).
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t testing.TB, width, height int) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{ctx: ctx}
	// The first run starts the browser: no deadline on it (it would stop
	// the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				msg = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to chromium: %v", err)
	}
	return b
}

// run runs actions with a deadline.
func (b *browser) run(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into a T.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(t testing.TB, what, cond string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(within))); err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('app').innerText.slice(0, 600)`))
		t.Fatalf("%s: %s still false after %s: %v\npage: %s", what, cond, within, err, page)
	}
}

// noErrors fails on every error the page logged so far.
func (b *browser) noErrors(t testing.TB, where string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		t.Errorf("%s: %s", where, e)
	}
	b.errors = nil
}

// navigate loads a URL and waits for the page's first render.
func (b *browser) navigate(t testing.TB, url string) {
	t.Helper()
	b.run(t, "navigate "+url, chromedp.Navigate(url))
	b.waitFor(t, "render "+url, `document.body.dataset.rendered !== undefined`, 15*time.Second)
}

// TestBrowser drives the page in headless chromium over a real run
// directory: no console errors, the trial table holds the run's rows, a
// trial's picture renders, trials a search adds appear without a reload,
// requests outside the run directories and without the token are refused.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	dir, dir2 := t.TempDir(), t.TempDir()
	o := searchOptions(search.StrategyRL, 12, 1)
	sum := buildRun(t, dir, o, false, fakeEval{epochs: 3})
	buildRun(t, dir2, searchOptions(search.StrategyRandom, 8, 1), false, fakeEval{epochs: 3})
	s, err := New(Config{Dirs: []string{dir, dir2}, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := testServer(t, s)
	b := newBrowser(t, 1280, 900)

	// A run: its trials and charts.
	b.navigate(t, ts.URL+"/#/run/0")
	b.waitFor(t, "the trial table", `document.querySelectorAll('#trials tbody tr').length === 12`, 10*time.Second)
	b.waitFor(t, "the charts", `document.querySelectorAll('#reward-chart canvas, #scatter-chart canvas').length === 2`, 5*time.Second)
	idx := eval[[]int](t, b, `[...document.querySelectorAll('#trials tbody tr')].map(r => +r.dataset.trial)`)
	for i, n := range idx {
		if n != i {
			t.Errorf("row %d shows trial %d", i, n)
		}
	}
	b.waitFor(t, "the live indicator", `document.getElementById('live').textContent === 'live'`, 5*time.Second)
	b.noErrors(t, "the run page")

	// Sorting and filtering.
	b.run(t, "sort by reward", chromedp.Click(chromedp.CSS(`#trials th[data-key="reward"]`)))
	b.waitFor(t, "sorted by reward", fmt.Sprintf(`document.querySelector('#trials tbody tr').dataset.trial === '%d'`, sum.Best.Index), 5*time.Second)
	b.run(t, "filter done", chromedp.SetValue(chromedp.CSS(`#status-filter`), "done"))
	eval[bool](t, b, `document.getElementById('status-filter').dispatchEvent(new Event('change'))`)
	b.waitFor(t, "filtered", `[...document.querySelectorAll('#trials tbody tr')].every(r => r.dataset.status === 'done')`, 5*time.Second)
	b.run(t, "unfilter", chromedp.SetValue(chromedp.CSS(`#status-filter`), "all"))
	eval[bool](t, b, `document.getElementById('status-filter').dispatchEvent(new Event('change'))`)

	// A search writes (the resumed run, a larger budget): the rows appear
	// without a reload.
	eval[string](t, b, `window.nasMarker = 'same page'`)
	o.Trials = 16
	buildRun(t, dir, o, true, fakeEval{epochs: 3})
	b.waitFor(t, "new trials without a reload", `document.querySelectorAll('#trials tbody tr').length === 16`, 10*time.Second)
	// And a row written directly, as another process would.
	insertTrial(t, dir, 16, "running", 0, nil, "kh3 kw3 f24 | kh5 kw5 f36 in0")
	b.waitFor(t, "a running trial without a reload", `document.querySelector('#trials tr[data-trial="16"][data-status="running"]') !== null`, 10*time.Second)
	if marker := eval[string](t, b, `window.nasMarker`); marker != "same page" {
		t.Errorf("the page was reloaded")
	}
	b.noErrors(t, "live updates")

	// A trial: its picture, curve and model link (the best trial's: it
	// has best.onnx).
	st, err := search.ReadRunState(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.navigate(t, fmt.Sprintf("%s/#/run/0/trial/%d", ts.URL, st.BestModel))
	b.waitFor(t, "the architecture picture", `(i => i && i.complete && i.naturalWidth > 0)(document.getElementById('arch'))`, 15*time.Second)
	b.waitFor(t, "the training curve", `document.querySelector('#curve-chart canvas') !== null`, 5*time.Second)
	b.waitFor(t, "the model link", `document.querySelector('a.model-link') !== null`, 5*time.Second)
	if href := eval[string](t, b, `document.querySelector('a.model-link').getAttribute('href')`); href != "/api/runs/0/models/best.onnx" {
		t.Errorf("model link %q", href)
	}
	b.noErrors(t, "the trial page")

	// The runs, and side by side.
	b.navigate(t, ts.URL+"/#/")
	b.waitFor(t, "the runs", `document.querySelectorAll('#runs tbody tr').length === 2`, 10*time.Second)
	b.waitFor(t, "the comparison", `document.querySelector('#compare-chart canvas') !== null`, 10*time.Second)
	b.navigate(t, ts.URL+"/#/compare")
	b.waitFor(t, "the compare page", `document.querySelectorAll('#compare tbody tr').length === 2 && document.querySelector('#compare-chart canvas') !== null`, 10*time.Second)
	b.noErrors(t, "the runs pages")

	// Paths outside the run directories are refused, however spelled.
	for _, p := range []string{"/runs/../../etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd",
		"/api/runs/0/models/..%2f..%2f..%2f..%2fetc%2fpasswd", "/api/runs/0/models/nas.db", "/etc/passwd"} {
		res := eval[struct {
			Status int
			Body   string
		}](t, b, fmt.Sprintf(`fetch(%q).then(async r => ({status: r.status, body: await r.text()}))`, p))
		if res.Status < 400 || strings.Contains(res.Body, "root:") {
			t.Errorf("GET %s: status %d, body %.80q", p, res.Status, res.Body)
		}
	}

	// With a token: the printed address works (query, then the cookie for
	// the scripts, the API and the event stream); without it, 401.
	if _, err := New(Config{Dirs: []string{dir}, Listen: "0.0.0.0:0"}); err == nil {
		t.Errorf("New served a non-loopback address without a token")
	}
	sv, err := New(Config{Dirs: []string{dir}, Token: NewToken(), Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tts := testServer(t, sv)
	b.errors = nil
	b.navigate(t, sv.URL(strings.TrimPrefix(tts.URL, "http://"))+"#/run/0")
	b.waitFor(t, "the run behind the token", `document.querySelectorAll('#trials tbody tr').length === 17`, 10*time.Second)
	b.waitFor(t, "live behind the token", `document.getElementById('live').textContent === 'live'`, 5*time.Second)
	b.noErrors(t, "the page behind the token")
	if status := eval[int](t, b, `fetch('/api/runs', {credentials: 'omit'}).then(r => r.status)`); status != 401 {
		t.Errorf("without the token: %d, want 401", status)
	}
}

// TestScreenshots writes PNGs of the main views into $NAS_SCREENSHOTS
// (make screenshots: docs/screenshots/), over three demo runs.
func TestScreenshots(t *testing.T) {
	out := os.Getenv("NAS_SCREENSHOTS")
	if out == "" {
		t.Skip("set NAS_SCREENSHOTS=DIR (make screenshots)")
	}
	out, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	var dirs []string
	var best int
	for i, strategy := range []string{search.StrategyRL, search.StrategyRandom, search.StrategyEvolution} {
		d := filepath.Join("runs", "compare", strategy+"-1")
		o := searchOptions(strategy, 64, 1)
		o.Controller.LR = 0.02
		sum := buildRun(t, d, o, false, fakeEval{epochs: 4})
		if i == 0 {
			best = sum.Best.Index
			writeRetrained(t, d, sum.Best.Arch, 0.9611)
		}
		dirs = append(dirs, d)
	}
	insertTrial(t, dirs[0], 64, "running", 0, nil, "kh3 kw3 f48 | kh3 kw5 f48 in0 | kh5 kw5 f64 in1")
	s, err := New(Config{Dirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	ts := testServer(t, s)
	b := newBrowser(t, 1280, 900)
	shots := []struct {
		name, hash, ready string
		full              bool // the whole page, not the window
	}{
		{"runs", "#/", `document.querySelector('#compare-chart canvas') !== null`, false},
		{"run", "#/run/0", `document.querySelector('#scatter-chart canvas') !== null`, false},
		{"trial", fmt.Sprintf("#/run/0/trial/%d", best), `(i => i && i.complete && i.naturalWidth > 0)(document.getElementById('arch')) && document.querySelector('#curve-chart canvas') !== null`, true},
		{"compare", "#/compare", `document.querySelector('#compare-chart canvas') !== null`, false},
	}
	for _, sh := range shots {
		b.navigate(t, ts.URL+"/"+sh.hash)
		b.waitFor(t, sh.name, sh.ready, 15*time.Second)
		b.waitFor(t, "live", `document.getElementById('live').textContent === 'live'`, 5*time.Second)
		b.run(t, "settle", chromedp.Sleep(300*time.Millisecond))
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		shot := chromedp.CaptureScreenshot()
		if sh.full {
			shot = chromedp.FullScreenshot(100) // 100: PNG
		}
		png, err := chromedp.Run(ctx, shot)
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s: %v", sh.name, err)
		}
		if err := os.WriteFile(filepath.Join(out, sh.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.noErrors(t, "screenshots")
}

// TestBrowserCellRun: a cell search's scores are 1/perplexity, and the
// pages say so (and give the perplexity) instead of calling them accuracy.
func TestBrowserCellRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	dir := t.TempDir()
	o := search.Options{Strategy: search.StrategyRandom, Space: "cell2", M: 4, Trials: 8, Seed: 1, MaxFailures: -1,
		Child: search.ChildOptions{Dataset: "tiny-char", Epochs: 2}}
	buildRun(t, dir, o, false, cellEval{epochs: 2})
	s, err := New(Config{Dirs: []string{dir}, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := testServer(t, s)
	b := newBrowser(t, 1280, 900)
	b.navigate(t, ts.URL+"/#/run/0")
	b.waitFor(t, "the trial table", `document.querySelectorAll('#trials tbody tr').length === 8`, 10*time.Second)
	b.waitFor(t, "the charts", `document.querySelectorAll('#reward-chart canvas, #scatter-chart canvas').length === 2`, 5*time.Second)
	page := eval[string](t, b, `document.body.textContent`)
	for _, want := range []string{"best val 1/ppl", "(ppl ", "1/ppl (per epoch)", "1/perplexity against cost"} {
		if !strings.Contains(page, want) {
			t.Errorf("the cell run's page lacks %q", want)
		}
	}
	if strings.Contains(page, "val acc") || strings.Contains(page, "Accuracy against cost") {
		t.Errorf("the cell run's page calls its scores accuracy:\n%s", page)
	}
	b.navigate(t, ts.URL+"/#/run/0/trial/0")
	b.waitFor(t, "the cell's picture", `(i => i && i.complete && i.naturalWidth > 0)(document.getElementById('arch'))`, 15*time.Second)
	b.waitFor(t, "the training curve", `document.querySelector('#curve-chart canvas') !== null`, 5*time.Second)
	if page := eval[string](t, b, `document.body.textContent`); !strings.Contains(page, "validation 1/perplexity") || strings.Contains(page, "validation accuracy") {
		t.Errorf("the cell trial's page:\n%s", page)
	}
	b.noErrors(t, "the cell run's pages")
}
