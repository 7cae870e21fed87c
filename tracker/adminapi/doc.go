// Package adminapi is the private tracker's admin API: JSON over HTTP for
// the site a private tracker lives behind. It creates, changes and deletes
// users, registers and unregisters torrents, and reads their totals, their
// live peers and the tracker's metrics, all through tracker/private.
//
// It does not listen (the caller serves Handler on a listener of its own)
// and keeps no state: every request reads or writes the database or asks
// the running Tracker. Every request needs the bearer token when one is
// configured. Handler may serve any number of requests at once.
package adminapi
