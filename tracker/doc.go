// Package tracker holds the announce request and response types, the compact
// peers codec (BEP 23, BEP 7), the announce client for HTTP and UDP trackers
// (BEP 15, with BEP 41's URLData) and the multi-tracker Announcer (BEP 12)
// that picks a tracker and schedules the next announce.
//
// It does not run a tracker (see tracker/server) or scrape. Client
// is safe for concurrent use; an Announcer serializes its announces, and its
// NextAnnounce may be called from any goroutine. Nothing here starts goroutines.
package tracker
