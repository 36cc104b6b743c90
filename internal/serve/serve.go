package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultListen is the listen address when Config.Listen is empty.
const DefaultListen = "127.0.0.1:8080"

// RefreshEvery is the longest a run's cached data is used without reading
// the database again.
const RefreshEvery = 5 * time.Second

// Config configures a Server.
type Config struct {
	// Dirs are the run directories, served as runs 0, 1, ... in this
	// order. At least one; each must be a directory (nas.db may come
	// later).
	Dirs []string
	// Listen is the address ListenAndServe listens on. Empty means
	// DefaultListen (loopback). Any other host than a loopback one needs
	// Token.
	Listen string
	// Token, when not empty, is required on every request (see the
	// package doc). Empty means none, allowed only on loopback.
	Token string
	// Poll is how often an event stream checks the runs for changes. Zero
	// means one second.
	Poll time.Duration
	// Logger receives the server's warnings (a run that cannot be read,
	// a failed response). Nil means none.
	Logger *slog.Logger
}

// Server is the web view. It is an http.Handler.
type Server struct {
	cfg     Config
	runs    []*runDir
	assets  map[string]asset
	handler http.Handler
	svgs    *svgCache
}

// New checks cfg and builds the server's fixed tables (the runs, the
// assets).
func New(cfg Config) (*Server, error) {
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("serve: no run directory given")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	loop, err := IsLoopback(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if !loop && cfg.Token == "" {
		return nil, fmt.Errorf("serve: listening on %s (not loopback) needs a token", cfg.Listen)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svgs: newSVGCache(256)}
	for i, d := range cfg.Dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("serve: run directory %s: %w", d, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("serve: %s is not a directory", d)
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("serve: %s: %w", d, err)
		}
		s.runs = append(s.runs, &runDir{id: i, name: d, dir: abs})
	}
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	s.handler = s.secure(s.routes())
	return s, nil
}

// IsLoopback reports whether a listen address (host:port) is on loopback
// only: a loopback IP or "localhost". An empty host (every interface) is
// not.
func IsLoopback(listen string) (bool, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("serve: listen address %q: %w", listen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return false, fmt.Errorf("serve: listen address %q: bad port", listen)
	}
	return loopbackHost(host), nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP serves the view.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// URL is the address of the view served on addr (host:port), with the
// token as a query parameter when there is one: what to open in a browser.
func (s *Server) URL(addr string) string {
	u := url.URL{Scheme: "http", Host: addr, Path: "/"}
	if s.cfg.Token != "" {
		u.RawQuery = url.Values{"token": {s.cfg.Token}}.Encode()
	}
	return u.String()
}

// ListenAndServe listens on Config.Listen, calls ready with the view's URL
// (URL of the address bound, so port 0 gives the port chosen; the host
// name for every interface), and serves
// until ctx is done; then it shuts down, closing open event streams.
func (s *Server) ListenAndServe(ctx context.Context, ready func(url string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if ready != nil {
		addr := ln.Addr().String()
		// Every interface (0.0.0.0, ::): the machine's name is an address
		// a browser elsewhere can open.
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				name, err := os.Hostname()
				if err != nil || name == "" {
					name = "localhost"
				}
				addr = net.JoinHostPort(name, port)
			}
		}
		ready(s.URL(addr))
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: event streams stay open.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveAsset("index.html"))
	mux.HandleFunc("GET /static/{name...}", func(w http.ResponseWriter, r *http.Request) {
		s.serveAsset(r.PathValue("name"))(w, r)
	})
	mux.HandleFunc("GET /api/runs", s.apiRuns)
	mux.HandleFunc("GET /api/runs/{run}", s.apiRun)
	mux.HandleFunc("GET /api/runs/{run}/trials/{trial}/arch.svg", s.apiArch)
	mux.HandleFunc("GET /api/runs/{run}/models/{name}", s.apiModel)
	mux.HandleFunc("GET /api/events", s.apiEvents)
	return mux
}

// run is the run a request's {run} names, or nil after a 404.
func (s *Server) run(w http.ResponseWriter, r *http.Request) *runDir {
	i, err := strconv.Atoi(r.PathValue("run"))
	if err != nil || i < 0 || i >= len(s.runs) || strconv.Itoa(i) != r.PathValue("run") {
		http.Error(w, "no such run", http.StatusNotFound)
		return nil
	}
	return s.runs[i]
}
