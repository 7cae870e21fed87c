// Package progress shows one torrent's progress for people and programs: a
// status line redrawn in place on a terminal (log lines lifted above it), a
// plain line every few seconds in a log file, or one JSON event a line
// (Event, stable field names); and the status line of a magnet link's
// metadata phase and of hashing. It draws what it is given (session.Stats)
// and starts no goroutines; a Display's methods may be called from several.
package progress
