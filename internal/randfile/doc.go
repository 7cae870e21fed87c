// Package randfile writes pseudo-random content of a given size, quickly and
// reproducibly from a seed: sample files for the demo and the benchmarks. It
// holds no state; its functions may be called from any goroutine.
package randfile
