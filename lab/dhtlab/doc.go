// Package dhtlab measures swarm's DHT: it starts N dht.Nodes in one process,
// each on its own UDP port of 127.0.0.1, lets them join one by one, runs
// lookups of random keys and reports hops and messages per lookup beside
// log2 N, the share that found the node truly closest to the key, and the
// same share while nodes leave and join. It does not test the protocol's
// details (package dht does). Run blocks until its report is complete and
// stops every node it started before returning.
package dhtlab
