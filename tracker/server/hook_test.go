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

// TestPanicLogHidesPasskey: the passkey in a request path never reaches the
// log, even when the handler panics and logs the path.
func TestPanicLogHidesPasskey(t *testing.T) {
	var logs bytes.Buffer
	l := zerolog.New(&logs)
	s, _ := newTestServer(t, server.Config{Hook: panicHook{}, Logger: &l})
	const passkey = "0123456789abcdef0123456789abcdef"
	body := string(get(t, s.Handler(), "10.0.0.1:1", "/"+passkey+"/announce?"+testPeer(ihA, 1, 0).Query()))
	if !strings.Contains(body, "internal tracker error") {
		t.Errorf("reply to a panicking hook = %q, want the generic failure reason", body)
	}
	if !strings.Contains(logs.String(), "/0123…/announce") || strings.Contains(logs.String(), passkey) {
		t.Errorf("log = %s, want the path with the passkey masked", logs.String())
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
