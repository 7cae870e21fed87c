package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"swarm/daemon/rpc"
	"swarm/metainfo"
	"swarm/tracker"
)

// selfSignedCert writes a certificate for 127.0.0.1 and its key under dir
// and returns their paths and a pool that trusts it.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "swarm test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// waitOutput waits until re matches the command's stdout and returns the
// match.
func (b *bg) waitOutput(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(b.out.String()); m != nil {
			return m
		}
		select {
		case <-b.done:
			t.Fatalf("command ended (%v) before printing %v", b.err, re)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %v within %v", re, timeout)
		}
	}
}

// retry calls f every 20 ms until it returns "", for at most 10 s, and
// fails with its last answer. The tracker takes up database changes at
// its next flush, a second at most.
func retry(t *testing.T, f func() string) {
	t.Helper()
	var last string
	for range 500 {
		if last = f(); last == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(last)
}

// TestPrivateTrackerAdminAPIOverTLS runs 'swarm tracker --private' with the
// admin API, a token, TLS on both listeners and a trusted proxy, as a site
// would: it creates a user through the API, announces with the passkey
// over HTTPS (through the "proxy", which names the client), and reads the
// user's totals (a download: an upload with nobody leeching is not
// credited) and the torrent's peers back. The admin commands see the
// same database while it runs.
func TestPrivateTrackerAdminAPIOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	const token = "0123456789abcdef0123456789abcdef"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "tracker.db")
	b := startSwarm(t, "tracker", "--private", "--db", db, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-token-file", tokenFile, "--tls-cert", certFile, "--tls-key", keyFile, "--trusted-proxy", "127.0.0.0/8",
		"--interval", "1m", "--min-interval", "1s", "--log-level", "debug")
	base := b.waitOutput(t, regexp.MustCompile(`private tracker listening on (https://127\.0\.0\.1:\d+):`), 10*time.Second)[1]
	api := b.waitOutput(t, regexp.MustCompile(`admin API listening on (https://127\.0\.0\.1:\d+)/api/ \(bearer token required\)`), 10*time.Second)[1]
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	call := func(method, path, body string, want int, out any) {
		t.Helper()
		req, err := http.NewRequest(method, api+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d %s, want %d", method, path, resp.StatusCode, got, want)
		}
		if out != nil {
			if err := json.Unmarshal(got, out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, got)
			}
		}
	}
	var alice struct {
		Passkey     string `json:"passkey"`
		AnnounceURL string `json:"announce_url"`
		Downloaded  int64  `json:"downloaded"`
		Leeching    int    `json:"leeching"`
	}
	call("POST", "/api/users", `{"name":"alice"}`, http.StatusCreated, &alice)
	if alice.AnnounceURL != base+"/"+alice.Passkey+"/announce" {
		t.Fatalf("announce URL %q, want %s/PASSKEY/announce: the https URL the tracker recorded", alice.AnnounceURL, base)
	}
	h := metainfo.Hash{0xaa, 0xbb}
	call("POST", "/api/torrents", `{"info_hash":"`+h.String()+`","name":"film","size":4096}`, http.StatusCreated, nil)

	announce := func(down int64, ev tracker.Event) string {
		var id [20]byte
		copy(id[:], "-qB4630-alice-000001")
		a := tracker.AnnounceRequest{InfoHash: h, PeerID: id, Port: 51413, Downloaded: down, Left: 4096, Event: ev, Compact: true}
		req, _ := http.NewRequest("GET", alice.AnnounceURL+"?"+a.Query(), nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.7") // set by the trusted proxy (127.0.0.1)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if _, err := tracker.ParseAnnounceResponse(body); err != nil {
			return fmt.Sprintf("announce: %v", err)
		}
		return ""
	}
	retry(t, func() string { return announce(0, tracker.EventStarted) })
	time.Sleep(1100 * time.Millisecond) // --min-interval
	if err := announce(1<<20, tracker.EventNone); err != "" {
		t.Fatal(err)
	}
	retry(t, func() string {
		call("GET", "/api/users/alice", "", http.StatusOK, &alice)
		if alice.Downloaded != 1<<20 || alice.Leeching != 1 {
			return fmt.Sprintf("alice = %+v, want 1 MiB downloaded, leeching 1", alice)
		}
		return ""
	})
	var peers []struct {
		User, IP, Client string
		Port             int
	}
	call("GET", "/api/torrents/"+h.String()+"/peers", "", http.StatusOK, &peers)
	if len(peers) != 1 || peers[0].User != "alice" || peers[0].IP != "198.51.100.7" || peers[0].Port != 51413 {
		t.Errorf("peers = %+v, want alice at 198.51.100.7:51413 (from the trusted proxy's X-Forwarded-For)", peers)
	}

	// /metrics on the tracker's port needs the token too.
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics without the token: status %d, want 401", resp.StatusCode)
	}

	// The admin commands, on the same database: a user added now gets the
	// recorded https URL; the torrent list shows the leecher and its totals.
	out, errOut, code := runSwarm(t, "tracker", "user", "add", "bob", "--db", db)
	if code != 0 || !strings.Contains(out, "announce URL: "+base+"/") {
		t.Errorf("user add bob: exit %d, %s%s; want an announce URL under %s", code, out, errOut, base)
	}
	retry(t, func() string {
		out, errOut, code := runSwarm(t, "tracker", "torrent", "list", "--db", db)
		if code != 0 || !regexp.MustCompile(h.String()+`\s+film\s+4 KiB\s+\S+\s+normal\s+0\s+1\s+0\n`).MatchString(out) {
			return fmt.Sprintf("torrent list: exit %d, %s%s; want film, normal, with 0 seeders, 1 leecher, 0 snatches", code, out, errOut)
		}
		return ""
	})
	out, errOut, code = runSwarm(t, "tracker", "user", "delete", "bob", "--db", db)
	if code != 0 || out != "user bob deleted\n" {
		t.Errorf("user delete bob: exit %d, %q %s", code, out, errOut)
	}
	call("GET", "/api/users/bob", "", http.StatusNotFound, nil)
	if strings.Contains(b.errOut.String(), token) {
		t.Errorf("the token appears in the tracker's log")
	}
}

// TestTrackerFlagsBehindASite: the combinations 'swarm tracker' refuses.
func TestTrackerFlagsBehindASite(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("tooshort"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "t.db")
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"--private", "--admin-listen", "0.0.0.0:0"}, "not a loopback address: give --admin-token-file"},
		{[]string{"--private", "--admin-listen", ":0"}, "not a loopback address"},
		{[]string{"--admin-listen", "127.0.0.1:0"}, "--admin-listen needs --private"},
		{[]string{"--private", "--trust-ip"}, "never takes the address from the ip parameter"},
		{[]string{"--private", "--admin-token-file", short}, "at least 16 characters"},
		{[]string{"--trusted-proxy", "10.0.0.0/33"}, "--trusted-proxy"},
		{[]string{"--tls-cert", "x.pem"}, "--tls-cert and --tls-key go together"},
	} {
		_, errOut, code := runSwarm(t, append([]string{"tracker", "--db", db, "--listen", "127.0.0.1:0"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.err) {
			t.Errorf("swarm tracker %v: exit %d, %q; want exit 2 and %q", tt.args, code, errOut, tt.err)
		}
	}
}

// TestAdminAPIBoundsConnections: the admin API holds 32 connections per
// address and 256 in all. One address opening 256 idle ones (the global
// bound) gets the rest of them closed, and the site's backend on another
// address is still answered (before, it waited behind them until they
// timed out); 256 held from 8 addresses make a 257th wait until one
// closes.
func TestAdminAPIBoundsConnections(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tracker.db")
	b := startSwarm(t, "tracker", "--private", "--db", db, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	addr := b.waitOutput(t, regexp.MustCompile(`admin API listening on http://(127\.0\.0\.1:\d+)/api/`), 10*time.Second)[1]
	dialFrom := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Skipf("dial from %s (no loopback addresses of its own?): %v", src, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ask := func(c net.Conn, wait time.Duration) string {
		t.Helper()
		if _, err := io.WriteString(c, "GET /api/users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
			return ""
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		got, _ := io.ReadAll(c)
		return string(got)
	}
	var held []net.Conn
	for range rpc.DefaultMaxConns {
		held = append(held, dialFrom("127.0.0.2")) // sends nothing: held until the 10 s header timeout
	}
	if got := ask(dialFrom("127.0.0.1"), 5*time.Second); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("the backend, while another address opened %d connections: %q, want the users list", rpc.DefaultMaxConns, got)
	}
	for _, c := range held {
		c.Close()
	}
	held = held[:0]
	for i := range 8 {
		for range rpc.DefaultMaxConns / 8 {
			held = append(held, dialFrom(fmt.Sprintf("127.0.0.%d", 3+i)))
		}
	}
	// Each held one answers a request once there is room: all are in.
	c := dialFrom("127.0.0.1")
	if got := ask(c, time.Second); got != "" {
		t.Fatalf("connection %d answered while %d were held: %q", rpc.DefaultMaxConns+1, rpc.DefaultMaxConns, got)
	}
	held[0].Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(c); !strings.HasPrefix(string(got), "HTTP/1.1 200") {
		t.Errorf("once one connection closed: %q (%v), want the users list", got, err)
	}
}
