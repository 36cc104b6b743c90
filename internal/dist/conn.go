package dist

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerOptions configures the embedded NATS server of a search.
type ServerOptions struct {
	// Listen is host:port. Empty means 127.0.0.1 on a port the system
	// chooses.
	Listen string
	// Token is the token every client must present; required (Validate
	// refuses an empty one, on loopback too).
	Token string
	// TLSCert and TLSKey, when both set, make the server require TLS with
	// this certificate.
	TLSCert, TLSKey string
	// TLSClientCA, with TLS, makes the server require a client
	// certificate signed by this CA (mutual TLS) besides the token. Empty:
	// client certificates are not asked for.
	TLSClientCA string
	// StoreDir is where JetStream keeps its streams. Required.
	StoreDir string
}

// Validate says whether the options can start a server.
func (o ServerOptions) Validate() error {
	if _, _, err := o.hostPort(); err != nil {
		return err
	}
	if o.Token == "" {
		return fmt.Errorf("dist: listening on %s needs a token (every worker must authenticate)", o.Listen)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return fmt.Errorf("dist: TLS needs both a certificate and its key")
	}
	if o.TLSClientCA != "" && o.TLSCert == "" {
		return fmt.Errorf("dist: verifying client certificates needs TLS (a certificate and its key)")
	}
	if o.StoreDir == "" {
		return fmt.Errorf("dist: no JetStream store directory")
	}
	return nil
}

func (o ServerOptions) hostPort() (string, int, error) {
	if o.Listen == "" {
		return "127.0.0.1", -1, nil
	}
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return "", 0, fmt.Errorf("dist: listen address %q: %w", o.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("dist: listen address %q: bad port", o.Listen)
	}
	if p == 0 {
		p = -1 // the system chooses
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, p, nil
}

// Server is an embedded NATS server with JetStream.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded server and waits until it accepts
// connections.
func StartServer(o ServerOptions) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	host, port, _ := o.hostPort()
	opts := &server.Options{ServerName: "nas", Host: host, Port: port, JetStream: true, StoreDir: o.StoreDir,
		NoSigs: true, NoLog: true, Authorization: o.Token, MaxPayload: MaxMessageBytes + 64<<10}
	if o.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey, CaFile: o.TLSClientCA, Verify: o.TLSClientCA != ""})
		if err != nil {
			return nil, fmt.Errorf("dist: TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify = tc, true, o.TLSClientCA != ""
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("dist: start the NATS server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("dist: the NATS server on %s:%d did not start", host, port)
	}
	return &Server{ns: ns}, nil
}

// URL is the server's client URL (nats://host:port, or tls://).
func (s *Server) URL() string { return s.ns.ClientURL() }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ns.Addr() }

// ConnectInProcess connects to the server from its own process, without
// the network (and so without TLS: the search's own connection to a
// server that verifies client certificates), with the token.
func (s *Server) ConnectInProcess(name, token string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.Name(name), nats.Token(token))
	if err != nil {
		return nil, fmt.Errorf("dist: connect in process: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// ClientOptions say how to reach a NATS server.
type ClientOptions struct {
	// URL is the server (nats://host:port, tls://host:port). Required.
	URL string
	// Name names the connection (the worker's name).
	Name string
	// Token, or Creds (a NATS credentials file), authenticates; both
	// empty: none.
	Token, Creds string
	// CA verifies the server's certificate; Cert and Key are a client
	// certificate (mutual TLS). Any of them turns TLS on.
	CA, Cert, Key string
}

// Connect connects to a NATS server, reconnecting forever when the
// connection drops.
func Connect(o ClientOptions) (*nats.Conn, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("dist: no NATS server URL")
	}
	if o.Token != "" && o.Creds != "" {
		return nil, fmt.Errorf("dist: give a token or a credentials file, not both")
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, fmt.Errorf("dist: a client certificate needs its key")
	}
	opts := []nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(5 * time.Second)}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.Creds != "" {
		if _, err := os.Stat(o.Creds); err != nil {
			return nil, fmt.Errorf("dist: credentials: %w", err)
		}
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" {
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("dist: connect to %s: %w", o.URL, err)
	}
	return nc, nil
}
