package server

import (
	"net"
	"testing"
)

func TestAnnounceHostReplacesTheUnspecifiedAddress(t *testing.T) {
	for _, tt := range []struct {
		a    net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 6969}, "127.0.0.1:6969"},
		{&net.UDPAddr{IP: net.IPv4zero, Port: 1}, "127.0.0.1:1"},
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 80}, "10.0.0.1:80"},
		{&net.UDPAddr{IP: net.ParseIP("::1"), Port: 80}, "[::1]:80"},
	} {
		if got := AnnounceHost(tt.a); got != tt.want {
			t.Errorf("AnnounceHost(%v) = %q, want %q", tt.a, got, tt.want)
		}
	}
}
