package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"swarm/tracker/server"
)

// panicHook panics on every announce.
type panicHook struct{}

func (panicHook) BeforeAnnounce(context.Context, *server.AnnounceRequest) error { panic("hook bug") }
func (panicHook) BeforeScrape(context.Context, *server.ScrapeRequest) error     { return nil }

// TestPanicLogHidesPasskey: the passkey in a request path or query never
// reaches the log, even when the handler panics and logs the request.
func TestPanicLogHidesPasskey(t *testing.T) {
	const passkey = "0123456789abcdef0123456789abcdef"
	q := testPeer(ihA, 1, 0).Query()
	for _, tt := range []struct{ target, want string }{
		{"/" + passkey + "/announce?" + q, "/0123…/announce"},
		{"/announce?" + q + "&passkey=" + passkey, "passkey=0123…"},
		{"/announce?passkey=" + passkey + "&" + q, "passkey=0123…"},
		{"/announce?pass%6bey=" + passkey + "&" + q, "pass%6bey=0123…"},
	} {
		var logs bytes.Buffer
		l := zerolog.New(&logs)
		s, _ := newTestServer(t, server.Config{Hook: panicHook{}, Logger: &l})
		body := string(get(t, s.Handler(), "10.0.0.1:1", tt.target))
		if !strings.Contains(body, "internal tracker error") {
			t.Errorf("reply to a panicking hook = %q, want the generic failure reason", body)
		}
		if !strings.Contains(logs.String(), tt.want) || strings.Contains(logs.String(), passkey) {
			t.Errorf("GET %s: log = %s, want the passkey masked (%s)", tt.target, logs.String(), tt.want)
		}
	}
}

// TestExtraMetricsServed: collectors in Config.Metrics appear at /metrics.
func TestExtraMetricsServed(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "extra_things_total", Help: "Things."})
	c.Add(3)
	s, _ := newTestServer(t, server.Config{Metrics: []prometheus.Collector{c}})
	if body := string(get(t, s.Handler(), "10.0.0.1:1", "/metrics")); !strings.Contains(body, "extra_things_total 3\n") {
		t.Errorf("metrics lack extra_things_total 3:\n%s", body)
	}
	if _, err := server.New(server.Config{Metrics: []prometheus.Collector{c, c}}); err == nil {
		t.Error("New with a collector registered twice: nil error, want one")
	}
}
