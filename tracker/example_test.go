package tracker_test

import (
	"fmt"
	"net/netip"

	"swarm/metainfo"
	"swarm/tracker"
)

func ExampleAnnounceRequest_Query() {
	req := tracker.AnnounceRequest{
		InfoHash: metainfo.Hash{0x12, 0x34, 'a', ' '},
		PeerID:   [20]byte{'-', 'S', 'W', '0', '0', '0', '1', '-'},
		Port:     6881,
		Left:     1000,
		Event:    tracker.EventStarted,
		Compact:  true,
	}
	fmt.Println(req.Query())
	// Output:
	// info_hash=%124a%20%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00&peer_id=-SW0001-%00%00%00%00%00%00%00%00%00%00%00%00&port=6881&uploaded=0&downloaded=0&left=1000&compact=1&event=started
}

func ExampleParseCompactIPv4() {
	peers, err := tracker.ParseCompactIPv4([]byte{127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80})
	fmt.Println(peers, err)
	fmt.Printf("%q\n", tracker.AppendCompact(nil, netip.MustParseAddrPort("127.0.0.1:6881")))
	// Output:
	// [127.0.0.1:6881 10.0.0.2:80] <nil>
	// "\x7f\x00\x00\x01\x1a\xe1"
}
