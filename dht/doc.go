// Package dht is a BitTorrent Mainline DHT node (BEP 5): a Kademlia routing table of k-buckets
// around a 160-bit node id, KRPC over UDP (ping, find_node, get_peers, announce_peer), iterative
// lookups with α parallel queries, rotating announce tokens and a bounded peer store. It speaks
// IPv4 only and does not do BEP 32 (IPv6), BEP 42 (node id security) or BEP 44 (arbitrary data);
// it knows torrents only as 20-byte info hashes and never decides which torrents may use it
// (private torrents, BEP 27, are the caller's to keep away). A Node starts its goroutines in
// Run, which returns after they have all ended; its methods are safe for concurrent use.
package dht
