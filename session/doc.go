// Package session is swarm's engine and composition root: a Session owns the
// listener and its torrents; each torrent owns its peers, picker, storage and
// announcer, and is driven by one goroutine (its loop). Peer connections run
// a reader and a writer goroutine that talk to the loop through events. A
// torrent added by AddMagnet starts in the metadata state: its loop fetches
// the info dict over its own peer connections (package metadata assembles
// it), then opens the storage and downloads over the same connections.
//
// Every goroutine started here is waited for: Run returns only after all of
// them have stopped. Only cmd/ and lab import this package.
package session
