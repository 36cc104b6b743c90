package serve

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"path"
	"strings"
)

// CSP is the content security policy of every response: scripts, styles,
// images and connections from the view itself only; no inline script or
// style, no plugins, no framing, no forms.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// tokenCookie carries the token after a request gave it as a query
// parameter.
const tokenCookie = "nas_token"

// NewToken returns a random token (128 bits, hex).
func NewToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// secure wraps h with what every request goes through: the headers, a
// clean path, the host check (no token) or the token check.
func (s *Server) secure(h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hd.Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: GET and HEAD only", http.StatusMethodNotAllowed)
			return
		}
		// The path as sent and as decoded must both be clean: no dot
		// segments, no doubled or encoded slashes. (Nothing in a path
		// reaches the file system anyway; this refuses them outright.)
		if p := r.URL.Path; p == "" || p[0] != '/' || cleanPath(p) != p || strings.Contains(r.URL.EscapedPath(), "%2") ||
			strings.Contains(r.URL.EscapedPath(), "%5") || strings.ContainsAny(p, "\\\x00") {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		if s.cfg.Token == "" {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			if !loopbackHost(strings.Trim(host, "[]")) {
				http.Error(w, "this view answers only to loopback host names (start it with --token to serve others)", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		got, fromQuery := r.URL.Query().Get("token"), true
		if got == "" {
			fromQuery = false
			if c, err := r.Cookie(tokenCookie); err == nil {
				got = c.Value
			} else if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				got = a
			}
		}
		have := sha256.Sum256([]byte(got))
		if got == "" || subtle.ConstantTimeCompare(have[:], want[:]) != 1 {
			hd.Set("Cache-Control", "no-store")
			http.Error(w, "token required: open the address nas serve printed (with ?token=...)", http.StatusUnauthorized)
			return
		}
		if fromQuery {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: got, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		}
		h.ServeHTTP(w, r)
	})
}

// cleanPath is path.Clean keeping a trailing slash (there is none in the
// view's paths but the root).
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
