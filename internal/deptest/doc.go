// Package deptest checks swarm's import graph against the package map of
// ARCHITECTURE.md: its test lists every package with what it may import
// and fails, naming the arrow, when a package imports one above it, when
// anything imports cmd/, or when production code imports testing. It has
// no production code; the one place the allowed arrows are written down is
// deptest_test.go.
package deptest
