package tracker_test

import (
	"bytes"
	"errors"
	"testing"

	"swarm/tracker"
)

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"d8:completei3e10:incompletei4e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e",
		"d5:peersld2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881eee6:peers618:" + string(make([]byte, 18)) + "e",
		"d14:failure reason4:nopee",
		"d15:warning message1:w5:peers0:10:tracker id1:te",
		"d5:peersld2:ipi3e4:porti-1eee",
		"d5:peers999999999999:e",
		"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllle",
		"d8:intervali-9223372036854775808ee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := tracker.ParseAnnounceResponse(body)
		if err != nil {
			var fe *tracker.FailureError
			if errors.As(err, &fe) && resp.Peers != nil {
				t.Errorf("failure reply came with peers")
			}
			return
		}
		if resp.Interval < 0 || resp.MinInterval < 0 {
			t.Errorf("negative interval %v / %v", resp.Interval, resp.MinInterval)
		}
		// Every peer is usable, and no more peers than the body could hold.
		if len(resp.Peers) > len(body)/6 {
			t.Errorf("%d peers out of %d bytes", len(resp.Peers), len(body))
		}
		for _, p := range resp.Peers {
			if !p.IsValid() || p.Port() == 0 || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Errorf("unusable peer %v", p)
			}
		}
	})
}

func FuzzCompactPeers(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x7f\x00\x00\x01\x1a\xe1"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff"))
	f.Add(bytes.Repeat([]byte{0xff}, 18))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04\x00\x01")) // IPv4-mapped
	f.Add([]byte("12345"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, size := range []int{tracker.CompactIPv4Len, tracker.CompactIPv6Len} {
			parse := tracker.ParseCompactIPv4
			if size == tracker.CompactIPv6Len {
				parse = tracker.ParseCompactIPv6
			}
			peers, err := parse(b)
			if (err == nil) != (len(b)%size == 0) {
				t.Fatalf("parse(%d-byte peers, len %d) error = %v", size, len(b), err)
			}
			if err != nil {
				continue
			}
			if len(peers) != len(b)/size {
				t.Fatalf("got %d peers from %d bytes of %d", len(peers), len(b), size)
			}
			// Encoding gives the same bytes back, except that an IPv4-mapped
			// IPv6 peer becomes a 6-byte IPv4 peer.
			var out []byte
			for _, p := range peers {
				out = tracker.AppendCompact(out, p)
			}
			v4, v6 := tracker.EncodeCompact(peers)
			if size == tracker.CompactIPv4Len {
				if !bytes.Equal(out, b) || !bytes.Equal(v4, b) || len(v6) != 0 {
					t.Fatalf("IPv4 round trip: %x -> %x / %x %x", b, out, v4, v6)
				}
				continue
			}
			mapped := 0
			for _, p := range peers {
				if p.Addr().Is4In6() {
					mapped++
				}
			}
			if len(out) != len(b)-12*mapped || len(v4) != 6*mapped || len(v6) != len(b)-18*mapped {
				t.Fatalf("IPv6 round trip: %d bytes, %d mapped -> %d, v4 %d, v6 %d", len(b), mapped, len(out), len(v4), len(v6))
			}
			if mapped == 0 && !bytes.Equal(out, b) {
				t.Fatalf("IPv6 round trip: %x -> %x", b, out)
			}
		}
	})
}
