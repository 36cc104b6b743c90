package dist

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nas-project/nas/search"
)

// pki is a CA made for a test and certificates it signed, as PEM files in
// a temporary directory (nothing is committed).
type pki struct {
	dir    string
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
	CA     string // the CA's certificate file
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caKey = key
	p.CA = p.write(t, name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate for 127.0.0.1 (a server's, or a client's) and
// returns its certificate and key files.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kb)
}

// TestTLS: the embedded server with a certificate (as nas search --listen
// --tls-cert/--tls-key): a worker that verifies it with the CA trains a
// trial over TLS; a client without the CA, or with another CA, is refused
// (the server's certificate is not trusted), also given a nats:// URL.
// With a client CA (--tls-client-ca) the server also
// verifies clients: one without a certificate, or with one another CA
// signed, is refused; one with a certificate the CA signed connects.
func TestTLS(t *testing.T) {
	ca := newPKI(t, "nas")
	other := newPKI(t, "other")
	srvCert, srvKey := ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	s, err := StartServer(ServerOptions{Token: "tok", StoreDir: t.TempDir(), TLSCert: srvCert, TLSKey: srvKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	url := "tls://" + s.Addr().String()
	nc, err := Connect(ClientOptions{URL: url, Token: "tok", CA: ca.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if !nc.TLSRequired() {
		t.Error("the connection does not use TLS")
	}
	ev := testEvaluator(t, nc, Config{})
	startWorker(t, url, "tok", "tls", "NAS_CA="+ca.CA)
	if r := <-evaluate(ev, trial(1)); r.err != nil || r.out.Status != search.Done || r.out.Worker != "tls" {
		t.Errorf("a trial through a TLS worker: %+v, %v", r.out, r.err)
	}
	refused := func(what string, o ClientOptions, want ...string) {
		t.Helper()
		o.Token = "tok"
		c, err := Connect(o)
		if err == nil {
			c.Close()
			t.Errorf("%s: connected, want refused", what)
			return
		}
		for _, w := range want {
			if strings.Contains(err.Error(), w) {
				t.Logf("%s: refused: %v", what, err)
				return
			}
		}
		t.Errorf("%s: %v, want one of %q", what, err, want)
	}
	refused("no CA", ClientOptions{URL: url}, "certificate signed by unknown authority")
	refused("another CA", ClientOptions{URL: url, CA: other.CA}, "certificate signed by unknown authority")
	// A nats:// URL: the client upgrades to TLS, as the server requires it.
	refused("nats:// without the CA", ClientOptions{URL: "nats://" + s.Addr().String()}, "certificate signed by unknown authority")
	// A worker process without the CA exits with the refusal.
	p := startWorker(t, url, "tok", "untrusting")
	if err := p.exited(t); err == nil || !strings.Contains(p.Stderr(), "unknown authority") {
		t.Errorf("a worker without the CA: exit %v, stderr %q", err, p.Stderr())
	}

	// Client certificates verified.
	s2, err := StartServer(ServerOptions{Token: "tok", StoreDir: t.TempDir(), TLSCert: srvCert, TLSKey: srvKey, TLSClientCA: ca.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Shutdown)
	url2 := "tls://" + s2.Addr().String()
	cliCert, cliKey := ca.issue(t, "worker", x509.ExtKeyUsageClientAuth)
	otherCert, otherKey := other.issue(t, "intruder", x509.ExtKeyUsageClientAuth)
	// TLS 1.3: the server's refusal comes after the client's handshake, as
	// an alert or as the connection closed; Go's client offers no
	// certificate that the server's CA list rules out.
	clientRefused := []string{"certificate required", "closed by remote after TLS handshake", "unknown certificate authority", "bad certificate"}
	refused("no client certificate", ClientOptions{URL: url2, CA: ca.CA}, clientRefused...)
	refused("a client certificate of another CA", ClientOptions{URL: url2, CA: ca.CA, Cert: otherCert, Key: otherKey}, clientRefused...)
	c, err := Connect(ClientOptions{URL: url2, Token: "tok", CA: ca.CA, Cert: cliCert, Key: cliKey})
	if err != nil {
		t.Fatalf("a client certificate the CA signed: %v", err)
	}
	c.Close()
	// The search's own connection, in process, needs no certificate.
	if c, err = s2.ConnectInProcess("search", "tok"); err != nil {
		t.Errorf("in process: %v", err)
	} else {
		c.Close()
	}
	if err := (ServerOptions{Token: "tok", StoreDir: t.TempDir(), TLSClientCA: ca.CA}).Validate(); err == nil {
		t.Error("a client CA without TLS was accepted")
	}
}
