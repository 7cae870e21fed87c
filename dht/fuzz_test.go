package dht_test

import (
	"bytes"
	"testing"

	"swarm/dht"
)

// FuzzParseMsg feeds arbitrary datagrams to the KRPC decoder: it must not
// panic, must refuse what a Node cannot act on, and what it accepts must
// re-encode to a message that decodes the same.
func FuzzParseMsg(f *testing.F) {
	f.Add([]byte("d1:ad2:id20:" + id20 + "e1:q4:ping1:t2:aa1:y1:qe"))
	f.Add([]byte("d1:ad2:id20:" + id20 + "9:info_hash20:" + id20 + "4:porti6881e5:token8:abcdefghe1:q13:announce_peer1:t2:aa1:y1:qe"))
	f.Add([]byte("d1:rd2:id20:" + id20 + "5:nodes26:" + id20 + "\x7f\x00\x00\x01\x1a\xe15:token4:abcd6:valuesl6:\x7f\x00\x00\x01\x1a\xe1ee1:t2:aa1:v4:SW\x00\x011:y1:re"))
	f.Add([]byte("d1:eli201e4:oopse1:t2:aa1:y1:ee"))
	f.Add([]byte("d1:ad2:id20:" + id20 + "6:target20:" + id20 + "e1:q9:find_node2:roi1e1:t2:aa1:y1:qe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := dht.ParseMsg(data)
		if err != nil {
			return
		}
		if len(data) > dht.MaxPacket {
			t.Fatalf("ParseMsg accepted %d bytes", len(data))
		}
		switch m.Y {
		case "q":
			if m.A == nil || len(m.A.ID) != 20 || m.Q == "" {
				t.Fatalf("ParseMsg(%q) accepted a query without method or 20-byte id: %+v", data, m)
			}
		case "r":
			if m.R == nil || len(m.R.ID) != 20 || len(m.R.Nodes)%26 != 0 {
				t.Fatalf("ParseMsg(%q) accepted a bad response: %+v", data, m.R)
			}
		case "e":
			if m.E == nil {
				t.Fatalf("ParseMsg(%q) accepted an error without body", data)
			}
		default:
			t.Fatalf("ParseMsg(%q) accepted type %q", data, m.Y)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal(ParseMsg(%q)) = %v", data, err)
		}
		if len(b) > dht.MaxPacket {
			return // re-encoding may add what omitempty dropped; nothing to compare
		}
		back, err := dht.ParseMsg(b)
		if err != nil {
			t.Fatalf("ParseMsg(Marshal(ParseMsg(%q))) = %v (encoded %q)", data, err, b)
		}
		b2, _ := back.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding of %q is not stable: %q then %q", data, b, b2)
		}
	})
}
