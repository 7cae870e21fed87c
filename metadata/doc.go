// Package metadata fetches a torrent's info dictionary from peers for a magnet link, with
// the extension protocol (BEP 10) and metadata exchange (BEP 9). Fetch dials a bounded
// number of peers in parallel, and asks the peers that connect to us (handed over after
// the handshake by whoever listens), takes the whole info dict from one peer and checks it
// against the info hash; a peer that rejects, stalls or sends bytes of the wrong size or
// hash is dropped, and one that is not ready (refuses or resets the handshake) is dialled
// again after a doubling backoff, a bounded number of times. The sizes peers claim share a
// memory budget, one fetch per claimed size at a time, and the IP of a peer whose info dict
// fails the hash is banned until Fetch returns. It does not serve metadata (the
// session does), listen, nor find peers (trackers and the DHT do). Fetch owns every goroutine
// it starts and waits for them before it returns.
package metadata
