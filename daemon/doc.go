// Package daemon runs many torrents in one session for a long time: the
// list of torrents and each one's settings and counters persist in a state
// folder, a queue bounds how many download and seed at once, a watch folder
// adds the .torrent files dropped in it, and a torrent that fails (a folder
// gone, permission denied) shows its error while the others run on.
//
// It does not speak a protocol: package daemon/rpc maps the Transmission
// RPC onto its methods. A Daemon's methods are safe from any goroutine; its
// mutex guards the torrent list and is never held across I/O that can wait
// on the network or on hashing (opening a torrent, stopping one, moving data
// run outside it).
package daemon
