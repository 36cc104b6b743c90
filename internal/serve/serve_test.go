package serve

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nas-project/nas/search"
)

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		err  string // "" means New succeeds
	}{
		{"loopback needs no token", Config{Dirs: []string{dir}}, ""},
		{"localhost is loopback", Config{Dirs: []string{dir}, Listen: "localhost:0"}, ""},
		{"IPv6 loopback", Config{Dirs: []string{dir}, Listen: "[::1]:0"}, ""},
		{"another address with a token", Config{Dirs: []string{dir}, Listen: "0.0.0.0:0", Token: "t"}, ""},
		{"no directory", Config{}, "serve: no run directory given"},
		{"a missing directory", Config{Dirs: []string{filepath.Join(dir, "nope")}}, "no such file or directory"},
		{"a file", Config{Dirs: []string{file}}, "is not a directory"},
		{"no port", Config{Dirs: []string{dir}, Listen: "127.0.0.1"}, "missing port"},
		{"bad port", Config{Dirs: []string{dir}, Listen: "127.0.0.1:http"}, "bad port"},
		{"every interface without a token", Config{Dirs: []string{dir}, Listen: ":8080"}, "not loopback) needs a token"},
		{"a public address without a token", Config{Dirs: []string{dir}, Listen: "0.0.0.0:8080"}, "not loopback) needs a token"},
		{"a host name without a token", Config{Dirs: []string{dir}, Listen: "example.org:8080"}, "not loopback) needs a token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if c.err == "" && err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("New: err = %v, want %q", err, c.err)
			}
		})
	}
}

// rawGet sends one request with the path exactly as given (no client-side
// cleaning), as curl --path-as-is does.
func rawGet(t *testing.T, addr, method, path, host string, header map[string]string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if host == "" {
		host = addr
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, host)
	for k, v := range header {
		fmt.Fprintf(conn, "%s: %s\r\n", k, v)
	}
	fmt.Fprint(conn, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := testServer(t, s)
	return s, strings.TrimPrefix(ts.URL, "http://")
}

// testServer serves s until the test ends; then it ends the open event
// streams (their requests' context) and closes.
func testServer(t testing.TB, s *Server) *httptest.Server {
	ctx, cancel := context.WithCancel(context.Background())
	ts := httptest.NewUnstartedServer(s)
	ts.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	ts.Start()
	t.Cleanup(func() { cancel(); ts.Close() })
	return ts
}

func getJSON(t *testing.T, addr, path string, v any) {
	t.Helper()
	resp, body := rawGet(t, addr, "GET", path, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestAPI: the JSON of a real run agrees with its trial table.
func TestAPI(t *testing.T) {
	dir := t.TempDir()
	sum := buildRun(t, dir, searchOptions(search.StrategyRandom, 12, 1), false, fakeEval{epochs: 3})
	empty := t.TempDir()
	_, addr := startServer(t, Config{Dirs: []string{dir, empty}})

	var runs []runJSON
	getJSON(t, addr, "/api/runs", &runs)
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	r := runs[0]
	if r.Trials != 12 || r.Final != 12 || r.Options == nil || r.Options.Strategy != "random" || r.Dataset != "digits" {
		t.Errorf("run 0: %+v", r)
	}
	if r.Best == nil || sum.Best == nil || r.Best.Index != sum.Best.Index || r.Best.Reward != sum.Best.Reward {
		t.Errorf("best %+v, the search's %+v", r.Best, sum.Best)
	}
	if len(r.Models) != 1 || r.Models[0].Name != "best.onnx" || r.Models[0].Trial != sum.Best.Index {
		t.Errorf("models %+v", r.Models)
	}
	if runs[1].Error != "no run recorded yet" || runs[1].Trials != 0 {
		t.Errorf("run 1 (no nas.db): %+v", runs[1])
	}
	if _, err := os.Stat(filepath.Join(empty, search.DBFile)); err == nil {
		t.Errorf("serving an empty directory created nas.db in it")
	}

	var detail struct {
		Run    runJSON
		Trials []trialJSON
	}
	getJSON(t, addr, "/api/runs/0", &detail)
	_, recs, err := search.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(detail.Trials) != len(recs) {
		t.Fatalf("%d trials, want %d", len(detail.Trials), len(recs))
	}
	for i, tj := range detail.Trials {
		rec := recs[i]
		if tj.Index != rec.Index || tj.Arch != rec.Arch || tj.Status != rec.Status.String() || tj.Reward != rec.Reward ||
			len(tj.ValAcc) != len(rec.ValAcc) || tj.Seed != fmt.Sprint(rec.Seed) || tj.Worker != "local" {
			t.Errorf("trial %d: %+v, record %+v", i, tj, rec)
		}
		if want := rec.Index == sum.Best.Index; want != (len(tj.Models) == 1 && tj.Models[0] == "best.onnx") {
			t.Errorf("trial %d: models %v", i, tj.Models)
		}
	}

	for _, c := range []struct {
		path, ctype, has string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/static/app.js"`},
		{"/static/app.js", "text/javascript; charset=utf-8", "EventSource"},
		{"/static/vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot"},
		{"/static/vendor/uplot/LICENSE", "text/plain; charset=utf-8", "MIT"},
		{fmt.Sprintf("/api/runs/0/trials/%d/arch.svg", sum.Best.Index), "image/svg+xml", "<svg"},
		{"/api/runs/0/models/best.onnx", "application/octet-stream", "nas.arch"},
	} {
		resp, body := rawGet(t, addr, "GET", c.path, "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(body, c.has) {
			t.Errorf("GET %s: %s, %s, body has %q: %v", c.path, resp.Status, resp.Header.Get("Content-Type"), c.has, strings.Contains(body, c.has))
		}
		if c.path == "/" && strings.Contains(body, "<script>") {
			t.Errorf("the page has an inline script")
		}
	}
	// A best.onnx that is not a copy of nas.db's best model (a search killed
	// between committing a new best and copying it) is shown as a file, not
	// as the best trial's model.
	good, err := os.ReadFile(filepath.Join(dir, search.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	stale := append([]byte(nil), good...)
	stale[len(stale)-1] ^= 1
	if err := os.WriteFile(filepath.Join(dir, search.BestFile), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	detail.Run, detail.Trials = runJSON{}, nil
	getJSON(t, addr, "/api/runs/0", &detail)
	if len(detail.Run.Models) != 1 || detail.Run.Models[0].Trial != -1 || len(detail.Trials[sum.Best.Index].Models) != 0 {
		t.Errorf("with a stale best.onnx: models %+v, the best trial's %v; want no trial's", detail.Run.Models, detail.Trials[sum.Best.Index].Models)
	}
	if err := os.WriteFile(filepath.Join(dir, search.BestFile), good, 0o644); err != nil {
		t.Fatal(err)
	}
	// nas retrain's model: the run's test accuracy, a download of every
	// done trial of its architecture.
	writeRetrained(t, dir, sum.Best.Arch, 0.9611)
	getJSON(t, addr, "/api/runs/0", &detail)
	if detail.Run.TestAcc == nil || *detail.Run.TestAcc != 0.9611 || detail.Run.TestFrom != "retrained.onnx" || len(detail.Run.Models) != 2 {
		t.Errorf("with retrained.onnx: test accuracy %v from %q, models %+v", detail.Run.TestAcc, detail.Run.TestFrom, detail.Run.Models)
	}
	if ms := detail.Trials[sum.Best.Index].Models; len(ms) != 2 || ms[1] != "retrained.onnx" {
		t.Errorf("the best trial's models: %v", ms)
	}
	if resp, _ := rawGet(t, addr, "GET", "/api/runs/0/models/best.onnx", "", nil); !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("the model is not sent as a download: %q", resp.Header.Get("Content-Disposition"))
	}
}

// TestSafety: headers, paths outside the fixed tables, methods, hosts.
func TestSafety(t *testing.T) {
	dir := t.TempDir()
	buildRun(t, dir, searchOptions(search.StrategyRandom, 4, 1), false, fakeEval{epochs: 1})
	_, addr := startServer(t, Config{Dirs: []string{dir}})
	for _, c := range []struct {
		method, path, host string
		want               int
	}{
		{"GET", "/", "", 200},
		{"GET", "/api/runs", "", 200},
		{"HEAD", "/api/runs", "", 200},
		{"GET", "/runs/../../etc/passwd", "", 400},
		{"GET", "/static/../../../../etc/passwd", "", 400},
		{"GET", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "", 400},
		{"GET", "/static/..%2f..%2f..%2fetc%2fpasswd", "", 400},
		{"GET", "/static/%2E%2E%5C%2E%2E%5Cetc%5Cpasswd", "", 400},
		{"GET", "/api/runs/0/models/..%2f..%2f..%2f..%2fetc%2fpasswd", "", 400},
		{"GET", "/api/runs/0/models/../../../../etc/passwd", "", 400},
		{"GET", "//etc/passwd", "", 400},
		{"GET", "/static//etc/passwd", "", 400},
		{"GET", "/etc/passwd", "", 404},
		{"GET", "/static/etc/passwd", "", 404},
		{"GET", "/static/app.js%00.png", "", 400},
		{"GET", "/api/runs/0/models/nas.db", "", 404},
		{"GET", "/api/runs/0/models/controller.ckpt", "", 404},
		{"GET", "/api/runs/1", "", 404},
		{"GET", "/api/runs/-1", "", 404},
		{"GET", "/api/runs/00", "", 404},
		{"GET", "/api/runs/0/trials/99/arch.svg", "", 404},
		{"GET", "/api/runs/0/trials/01/arch.svg", "", 404},
		{"POST", "/api/runs", "", 405},
		{"DELETE", "/api/runs/0", "", 405},
		{"PUT", "/static/app.js", "", 405},
		{"GET", "/", "localhost:8080", 200},
		{"GET", "/", "[::1]:8080", 200},
		{"GET", "/api/runs", "attacker.example:8080", 403},
		{"GET", "/api/runs", "127.0.0.1.attacker.example", 403},
	} {
		t.Run(c.method+" "+c.path+" "+c.host, func(t *testing.T) {
			resp, body := rawGet(t, addr, c.method, c.path, c.host, nil)
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.want, strings.TrimSpace(body))
			}
			if strings.Contains(body, "root:") {
				t.Errorf("the body holds /etc/passwd")
			}
			h := resp.Header
			if h.Get("Content-Security-Policy") != CSP || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
			if strings.HasPrefix(c.path, "/api/") && c.want == 200 && h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q on live data", h.Get("Cache-Control"))
			}
		})
	}
	if strings.Contains(CSP, "unsafe-inline") || !strings.Contains(CSP, "default-src 'self'") {
		t.Errorf("CSP %q", CSP)
	}
}

// TestToken: with a token, every request must carry it.
func TestToken(t *testing.T) {
	dir := t.TempDir()
	s, addr := startServer(t, Config{Dirs: []string{dir}, Listen: "0.0.0.0:0", Token: "s3cret"})
	if u := s.URL("10.0.0.1:8080"); u != "http://10.0.0.1:8080/?token=s3cret" {
		t.Errorf("URL = %s", u)
	}
	for _, c := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"none", "/api/runs", nil, 401},
		{"none, the page", "/", nil, 401},
		{"none, an asset", "/static/app.js", nil, 401},
		{"wrong", "/api/runs?token=s3cre", nil, 401},
		{"longer", "/api/runs?token=s3crets", nil, 401},
		{"query", "/?token=s3cret", nil, 200},
		{"cookie", "/api/runs", map[string]string{"Cookie": "nas_token=s3cret"}, 200},
		{"wrong cookie", "/api/runs", map[string]string{"Cookie": "nas_token=nope"}, 401},
		{"bearer", "/api/runs", map[string]string{"Authorization": "Bearer s3cret"}, 200},
		{"any host with the token", "/api/runs?token=s3cret", map[string]string{}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := rawGet(t, addr, "GET", c.path, "nas.example:8080", c.header)
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.want, strings.TrimSpace(body))
			}
			if c.name == "query" {
				ck := resp.Header.Get("Set-Cookie")
				if !strings.Contains(ck, "nas_token=s3cret") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
					t.Errorf("Set-Cookie %q", ck)
				}
			}
		})
	}
}

// TestLive: a trial written by another writer changes the run's version
// and reaches an open event stream; a killed search's running rows show,
// and a resumed search replaces them.
func TestLive(t *testing.T) {
	dir := t.TempDir()
	o := searchOptions(search.StrategyRL, 8, 3)
	buildRun(t, dir, o, false, fakeEval{epochs: 2})
	_, addr := startServer(t, Config{Dirs: []string{dir}, Poll: 50 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	next := func(what string) (ev struct {
		Run     int
		Version string
	}) {
		t.Helper()
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			if err := json.Unmarshal([]byte(d), &ev); err != nil {
				t.Fatal(err)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no event in 10 s", what)
		}
		return ev
	}
	first := next("the first versions")
	var runs []runJSON
	getJSON(t, addr, "/api/runs", &runs)
	if first.Run != 0 || first.Version != runs[0].Version {
		t.Fatalf("first event %+v, run version %s", first, runs[0].Version)
	}

	// A killed search: its last trial stays running.
	insertTrial(t, dir, 8, "running", 0, nil, "kh3 kw3 f24 | kh3 kw3 f24 in0")
	ev := next("a running trial")
	if ev.Version == first.Version {
		t.Errorf("the version did not change")
	}
	runs = nil
	getJSON(t, addr, "/api/runs", &runs)
	if runs[0].Statuses["running"] != 1 || runs[0].Trials != 9 || runs[0].Final != 8 || runs[0].Version != ev.Version {
		t.Errorf("after a running row: %+v", runs[0])
	}
	// Resumed with a larger budget: the running row is replaced when its
	// trial is re-run, with the rest of the iteration.
	o.Trials = 12
	buildRun(t, dir, o, true, fakeEval{epochs: 2})
	deadline := time.Now().Add(10 * time.Second)
	for {
		next("the resumed search")
		runs = nil // Unmarshal would merge into the old maps
		getJSON(t, addr, "/api/runs", &runs)
		if runs[0].Final == 12 || time.Now().After(deadline) {
			break
		}
	}
	if runs[0].Statuses["running"] != 0 || runs[0].Trials != 12 || runs[0].Final != 12 {
		t.Errorf("after the resume: %+v", runs[0])
	}
}

// TestVendored: the embedded chart library is the one scripts/fetch-uplot.sh
// verified (its SHA256SUMS), licence included.
func TestVendored(t *testing.T) {
	assets, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	sums := string(assets["vendor/uplot/SHA256SUMS"].body)
	lines := strings.Split(strings.TrimSpace(sums), "\n")
	if len(lines) != 3 {
		t.Fatalf("SHA256SUMS: %q", sums)
	}
	for _, l := range lines {
		want, name, ok := strings.Cut(l, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", l)
		}
		a, found := assets["vendor/uplot/"+name]
		if !found {
			t.Fatalf("vendor/uplot/%s is not embedded", name)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(a.body)); got != want {
			t.Errorf("vendor/uplot/%s: sha256 %s, want %s (run make uplot)", name, got, want)
		}
	}
}
