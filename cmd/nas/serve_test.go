package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeUsage: bad input to nas serve exits with status 2 and says why.
func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no directory", []string{"serve"}, "serve: give one or more run directories"},
		{"a missing directory", []string{"serve", filepath.Join(dir, "nope")}, "serve: run directory"},
		{"a bad address", []string{"serve", dir, "--listen", "nowhere"}, "serve: listen address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(c.args, &out, &errb); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %s", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q, want %q", errb.String(), c.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeToken: listening beyond loopback without --token makes one up,
// prints the address with it, and refuses requests without it.
func TestServeToken(t *testing.T) {
	a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	ready := make(chan error, 1)
	go func() { done <- a.serveRuns(ctx, &out, []string{t.TempDir()}, "0.0.0.0:0", "", ready) }()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	m := regexp.MustCompile(`serving 1 run\(s\) at (http://\S+/\?token=[0-9a-f]{32})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("printed %q, want the address with a token", out.String())
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + port
	client := &http.Client{Timeout: 10 * time.Second}
	for _, c := range []struct {
		url  string
		want int
	}{
		{base + "/api/runs", http.StatusUnauthorized},
		{base + "/api/runs?token=0000", http.StatusUnauthorized},
		{base + "/api/runs?" + u.RawQuery, http.StatusOK},
	} {
		resp, err := client.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d", c.url, resp.StatusCode, c.want)
		}
	}
}
