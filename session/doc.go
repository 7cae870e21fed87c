// Package session is swarm's engine and composition root: a Session owns the
// listener and its torrents; each torrent owns its peers, picker, storage and
// announcer, and is driven by one goroutine (its loop). Peer connections run
// a reader and a writer goroutine that talk to the loop through events. A
// Magnet is a magnet link before its metadata: it finds peers, takes the
// ones that connect for its info hash, and fetches the info dict (package
// metadata) so the torrent can be added.
//
// Every goroutine started here is waited for: Run returns only after all of
// them have stopped. Only cmd/ and lab import this package.
package session
