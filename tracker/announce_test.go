package tracker_test

import (
	"net/url"
	"strings"
	"testing"

	"swarm/metainfo"
	"swarm/tracker"
)

func allBytes() [256]byte {
	var b [256]byte
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestAppendEscapedEncodesEveryReservedByte(t *testing.T) {
	all := allBytes()
	got := string(tracker.AppendEscaped(nil, all[:]))
	for i := 0; i < len(got); i++ {
		c := got[i]
		if c == '%' {
			i += 2
			continue
		}
		if !strings.ContainsRune("-._~", rune(c)) && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			t.Errorf("byte %q left unescaped", c)
		}
	}
	back, err := url.PathUnescape(got)
	if err != nil || back != string(all[:]) {
		t.Errorf("PathUnescape(AppendEscaped(all)) = %q, %v, want all 256 bytes", back, err)
	}
}

func TestAnnounceRequestQuery(t *testing.T) {
	ih := metainfo.Hash{0x00, 0x01, 0xff, 'a', ' ', '+', '%', '&', '=', '~', '.', '-', '_', 'Z', '9', 0x80, 0x7f, '/', '?', '#'}
	var pid [20]byte
	copy(pid[:], "-SW0001-\x00\x01\x02\xfe\xffabcdefg")
	tests := []struct {
		name string
		req  tracker.AnnounceRequest
		want string
	}{
		{
			name: "started compact with options",
			req: tracker.AnnounceRequest{
				InfoHash: ih, PeerID: pid, Port: 6881, Uploaded: 1, Downloaded: 2, Left: 3,
				Event: tracker.EventStarted, NumWant: 30, Key: "a b", TrackerID: "t/1", Compact: true,
			},
			want: "info_hash=%00%01%FFa%20%2B%25%26%3D~.-_Z9%80%7F%2F%3F%23" +
				"&peer_id=-SW0001-%00%01%02%FE%FFabcdefg&port=6881&uploaded=1&downloaded=2&left=3" +
				"&compact=1&event=started&numwant=30&key=a%20b&trackerid=t%2F1",
		},
		{
			name: "regular dictionary model leaves optional parameters out",
			req:  tracker.AnnounceRequest{InfoHash: ih, PeerID: pid, Port: 1},
			want: "info_hash=%00%01%FFa%20%2B%25%26%3D~.-_Z9%80%7F%2F%3F%23" +
				"&peer_id=-SW0001-%00%01%02%FE%FFabcdefg&port=1&uploaded=0&downloaded=0&left=0&compact=0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.req.Query()
			if got != tt.want {
				t.Errorf("Query() =\n%s\nwant\n%s", got, tt.want)
			}
			v, err := url.ParseQuery(got)
			if err != nil {
				t.Fatalf("url.ParseQuery(%q): %v", got, err)
			}
			if v.Get("info_hash") != string(ih[:]) || v.Get("peer_id") != string(pid[:]) {
				t.Errorf("binary fields do not round-trip: %q %q", v.Get("info_hash"), v.Get("peer_id"))
			}
		})
	}
}
