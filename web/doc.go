// Package web is the daemon's page: one HTML file, one stylesheet and one
// script, embedded in the binary and served by Handler. The page shows only
// what the Transmission RPC at ./transmission/rpc tells it (torrent-get,
// session-get, session-stats, free-space, port-test) and changes things
// only through it, so it works in front of any server of that protocol.
//
// It does not authenticate: the daemon wraps Handler with the same auth as
// the RPC. Handler is safe for concurrent use; its files never change.
package web
