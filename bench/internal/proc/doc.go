// Package proc starts, waits for and kills the child processes of the
// benchmarks under bench/, and reads their CPU time, memory and state from
// /proc (Linux only). A Group remembers every process it started by PID, so
// that a benchmark can kill them all on error or interrupt and leave no
// seeder or tracker behind. It does not measure anything itself: what to
// sample and when is the benchmark's business.
//
// A Proc's and a Group's methods may be called from any goroutine.
package proc
