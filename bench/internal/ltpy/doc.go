// Package ltpy is the Go side of the benchmarks' python3-libtorrent peers:
// it checks that a python has the libtorrent module, writes a benchmark's
// script into its work folder together with lt_bench.py (the loopback
// settings every such script imports), and waits for a script's ready line.
// It does not run a benchmark or decide what a peer does; the scripts do.
//
// Its functions may be called from any goroutine.
package ltpy
