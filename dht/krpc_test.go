package dht_test

import (
	"errors"
	"strings"
	"testing"

	"swarm/dht"
)

var id20 = strings.Repeat("a", 20)

func TestParseMsg(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"ping", "d1:ad2:id20:" + id20 + "e1:q4:ping1:t2:aa1:y1:qe", true},
		{"find_node", "d1:ad2:id20:" + id20 + "6:target20:" + id20 + "e1:q9:find_node1:t2:aa1:y1:qe", true},
		{"response with nodes", "d1:rd2:id20:" + id20 + "5:nodes26:" + id20 + "\x7f\x00\x00\x01\x1a\xe1e1:t2:aa1:y1:re", true},
		{"error", "d1:eli201e4:oopse1:t2:aa1:y1:ee", true},
		{"unsorted keys are fine", "d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:" + id20 + "ee", true},
		{"unknown keys are ignored", "d1:ad2:id20:" + id20 + "1:xi1ee1:q4:ping1:t2:aa1:y1:q1:zli1eee", true},
		{"not a dict", "li1ee", false},
		{"empty", "", false},
		{"truncated", "d1:ad2:id20:" + id20, false},
		{"no transaction id", "d1:ad2:id20:" + id20 + "e1:q4:ping1:y1:qe", false},
		{"long transaction id", "d1:ad2:id20:" + id20 + "e1:q4:ping1:t33:" + strings.Repeat("t", 33) + "1:y1:qe", false},
		{"short id", "d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", false},
		{"query without args", "d1:q4:ping1:t2:aa1:y1:qe", false},
		{"short target", "d1:ad2:id20:" + id20 + "6:target3:abce1:q9:find_node1:t2:aa1:y1:qe", false},
		{"bad port", "d1:ad2:id20:" + id20 + "4:porti70000ee1:q13:announce_peer1:t2:aa1:y1:qe", false},
		{"negative port", "d1:ad2:id20:" + id20 + "4:porti-1ee1:q13:announce_peer1:t2:aa1:y1:qe", false},
		{"nodes not whole", "d1:rd2:id20:" + id20 + "5:nodes5:abcdee1:t2:aa1:y1:re", false},
		{"unknown type", "d1:t2:aa1:y1:xe", false},
		{"error without list", "d1:ei201e1:t2:aa1:y1:ee", false},
		{"trailing bytes", "d1:eli201e4:oopse1:t2:aa1:y1:eexx", false},
		{"huge string length", "d1:t99999999999:aa1:y1:qe", false},
		{"oversized packet", "d1:t2:aa1:y1:q1:v2000:" + strings.Repeat("v", 2000) + "e", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := dht.ParseMsg([]byte(c.in))
			if (err == nil) != c.ok {
				t.Fatalf("ParseMsg(%q) = %+v, %v; want ok %v", c.in, m, err, c.ok)
			}
		})
	}
}

func TestParseMsgError(t *testing.T) {
	m, err := dht.ParseMsg([]byte("d1:eli203e9:bad tokene1:t2:aa1:y1:ee"))
	if err != nil {
		t.Fatal(err)
	}
	var ke *dht.KRPCError
	if !errors.As(error(m.E), &ke) || ke.Code != 203 || ke.Msg != "bad token" {
		t.Fatalf("ParseMsg error = %+v, want 203 bad token", m.E)
	}
}

func TestMsgRoundTrip(t *testing.T) {
	msgs := []dht.Msg{
		{T: "ab", Y: "q", Q: "announce_peer", A: &dht.Args{ID: id20, InfoHash: id20, Token: "tok", Port: 6881, ImpliedPort: 1}},
		{T: "ab", Y: "r", R: &dht.Return{ID: id20, Values: []string{"\x7f\x00\x00\x01\x1a\xe1"}, Token: "t"}, V: "SW\x00\x01"},
		{T: "x", Y: "e", E: &dht.KRPCError{Code: 204, Msg: "method unknown"}},
	}
	for _, m := range msgs {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := dht.ParseMsg(b)
		if err != nil {
			t.Fatalf("ParseMsg(Marshal(%+v)) = %v", m, err)
		}
		b2, _ := back.Marshal()
		if string(b2) != string(b) {
			t.Fatalf("round trip changed %q into %q", b, b2)
		}
	}
}
