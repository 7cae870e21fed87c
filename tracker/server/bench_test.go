package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"swarm/internal/redistest"
	"swarm/metainfo"
	"swarm/tracker/server"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkAnnounce measures the handler alone (no network) on a swarm of
// 100 peers, each iteration a re-announce of one of them asking for 50.
func BenchmarkAnnounce(b *testing.B) {
	s, _ := newTestServer(b, server.Config{})
	h := s.Handler()
	ih := metainfo.Hash{0xbe}
	var reqs []*http.Request
	for n := range 100 {
		announce(b, h, "10.0.0.1", testPeer(ih, n, int64(n%5)), "&numwant=0")
		r := httptest.NewRequest(http.MethodGet, "/announce?"+testPeer(ih, n, int64(n%5)).Query(), nil)
		r.RemoteAddr = "10.0.0.1:1"
		reqs = append(reqs, r)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

// BenchmarkAnnounceRedis is BenchmarkAnnounce with the swarms in a
// redis-server of its own (one round trip per announce, on loopback).
func BenchmarkAnnounceRedis(b *testing.B) {
	s, _ := newTestServer(b, server.Config{Redis: redistest.Start(b)})
	h := s.Handler()
	ih := metainfo.Hash{0xbe}
	var reqs []*http.Request
	for n := range 100 {
		announce(b, h, "10.0.0.1", testPeer(ih, n, int64(n%5)), "&numwant=0")
		r := httptest.NewRequest(http.MethodGet, "/announce?"+testPeer(ih, n, int64(n%5)).Query(), nil)
		r.RemoteAddr = "10.0.0.1:1"
		reqs = append(reqs, r)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}
