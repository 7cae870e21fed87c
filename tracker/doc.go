// Package tracker holds the announce request and response types, the compact
// peers codec (BEP 23, BEP 7), the HTTP announce client and the multi-tracker
// Announcer (BEP 12) that picks a tracker and schedules the next announce.
//
// It does not run a tracker (see tracker/server), speak UDP or scrape. Client
// is safe for concurrent use; an Announcer serializes its announces, and its
// NextAnnounce may be called from any goroutine. Nothing here starts goroutines.
package tracker
