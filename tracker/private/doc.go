// Package private is the private mode of the tracker: users with passkeys,
// registered torrents and per-user accounting kept in an embedded SQLite
// database (modernc.org/sqlite, WAL mode) or in PostgreSQL (jackc/pgx).
//
// A DB is the database: schema migrations and the admin operations (add a
// user, register a torrent, read totals), safe to use from another process
// while a tracker serves. Its method set is the store interface: one type
// over database/sql for both engines, with queries written once and what
// differs (schema types, schema and data versions, placeholders, batched
// flush writes) in a dialect (postgres.go). docs/private-schema.md
// describes the tables for a site that reads them. A Tracker is a server.Hook: it refuses announces
// from unknown or disabled passkeys, for unregistered torrents and too
// frequent ones, and turns the counters of accepted announces into uploaded
// and downloaded deltas. Its announce path touches memory only; Run writes
// the totals in one transaction a second and at shutdown. A site's rules
// (client allow list, bans, torrent kinds, site-wide freeleech) are loaded
// with the users; anti-cheat and the address limit work on what the
// Tracker keeps of each swarm (cheat.go). A Tracker's hooks may be called
// from any number of goroutines at once.
package private
