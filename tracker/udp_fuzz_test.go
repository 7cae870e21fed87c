package tracker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestParseUDPReply(t *testing.T) {
	hdr := func(action, tx uint32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, action), tx)
	}
	announce := func(ints ...int32) []byte {
		b := hdr(1, 7)
		for _, n := range ints {
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		return b
	}
	v6 := netip.MustParseAddrPort("[2001:db8::1]:6881")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("10.1.2.3").As16()), 80)
	for _, c := range []struct {
		name    string
		b       []byte
		ipv6    bool
		want    string // fmt of the interesting fields; "" means an error
		wantErr bool
	}{
		{name: "connect", b: binary.BigEndian.AppendUint64(hdr(0, 7), 42), want: "0 7 conn=42"},
		{name: "short connect", b: hdr(0, 7), wantErr: true},
		{name: "short", b: []byte{0, 0, 0}, wantErr: true},
		{name: "unknown action", b: binary.BigEndian.AppendUint64(hdr(2, 7), 0), wantErr: true},
		{name: "error", b: append(hdr(3, 7), "nope"...), want: "3 7 msg=nope"},
		{name: "error invalid utf8", b: append(hdr(3, 7), 0xff), want: "3 7 msg=\uFFFD"},
		{name: "announce no peers", b: announce(1800, 2, 3), want: "1 7 30m0s 2 3 []"},
		{name: "announce negative", b: announce(-5, -7, -1), want: "1 7 0s -1 -1 []"},
		{name: "short announce", b: announce(1800, 2), wantErr: true},
		{name: "announce v4", b: AppendCompact(AppendCompact(announce(60, 0, 1), netip.MustParseAddrPort("1.2.3.4:5")),
			netip.MustParseAddrPort("1.2.3.4:0")), want: "1 7 1m0s 0 1 [1.2.3.4:5]"},
		{name: "announce v4 ragged", b: append(announce(60, 0, 1), 1, 2, 3), wantErr: true},
		{name: "announce v6 ragged", b: append(AppendCompact(announce(60, 0, 1), v6), mapped.Addr().AsSlice()...), wantErr: true, ipv6: true},
		{name: "announce v6 mapped", ipv6: true,
			b:    binary.BigEndian.AppendUint16(append(AppendCompact(announce(60, 0, 1), v6), mapped.Addr().AsSlice()...), 80),
			want: "1 7 1m0s 0 1 [[2001:db8::1]:6881 10.1.2.3:80]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseUDPReply(c.b, c.ipv6)
			if c.wantErr {
				if err == nil {
					t.Errorf("parseUDPReply(% x) = %+v, want an error", c.b, r)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseUDPReply(% x): %v", c.b, err)
			}
			var got string
			switch r.action {
			case 0:
				got = fmt.Sprintf("%d %d conn=%d", r.action, r.txID, r.connID)
			case 3:
				got = fmt.Sprintf("%d %d msg=%s", r.action, r.txID, r.msg)
			default:
				got = fmt.Sprintf("%d %d %v %d %d %v", r.action, r.txID, r.resp.Interval, r.resp.Incomplete, r.resp.Complete, r.resp.Peers)
			}
			if got != c.want {
				t.Errorf("parseUDPReply(% x) = %s, want %s", c.b, got, c.want)
			}
		})
	}
}

func FuzzParseUDPReply(f *testing.F) {
	hdr := func(action, tx uint32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, action), tx)
	}
	f.Add(binary.BigEndian.AppendUint64(hdr(0, 1), 0x1122334455667788), false)
	f.Add(append(hdr(3, 1), "Requested download is not authorized for use with this tracker."...), false)
	ann := hdr(1, 1)
	for _, n := range []uint32{1800, 0, 1} {
		ann = binary.BigEndian.AppendUint32(ann, n)
	}
	f.Add(AppendCompact(bytes.Clone(ann), netip.MustParseAddrPort("127.0.0.1:6881")), false)
	f.Add(AppendCompact(bytes.Clone(ann), netip.MustParseAddrPort("[::1]:6881")), true)
	f.Add(hdr(2, 1), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, ipv6 bool) {
		r, err := parseUDPReply(b, ipv6)
		if err != nil {
			return
		}
		if r.action > 3 || r.action == 2 {
			t.Errorf("accepted action %d", r.action)
		}
		if r.resp.Interval < 0 || r.resp.Interval > 7*24*time.Hour {
			t.Errorf("interval %v", r.resp.Interval)
		}
		size := CompactIPv4Len
		if ipv6 {
			size = CompactIPv6Len
		}
		if len(r.resp.Peers) > len(b)/size {
			t.Errorf("%d peers out of %d bytes", len(r.resp.Peers), len(b))
		}
		for _, p := range r.resp.Peers {
			if !p.IsValid() || p.Port() == 0 || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Errorf("unusable peer %v", p)
			}
		}
		// Peers re-encode to the reply's entries, less those with port 0.
		if r.action == udpActionAnnounce {
			var want []byte
			for e := b[udpAnnounceHeaderLen:]; len(e) >= size; e = e[size:] {
				if binary.BigEndian.Uint16(e[size-2:size]) != 0 {
					want = append(want, e[:size]...)
				}
			}
			var got []byte
			for _, p := range r.resp.Peers {
				if ipv6 {
					a := p.Addr().As16()
					got = binary.BigEndian.AppendUint16(append(got, a[:]...), p.Port())
				} else {
					got = AppendCompact(got, p)
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("peers %v re-encode to % x, want % x", r.resp.Peers, got, want)
			}
		}
	})
}
