// Package deptest checks swarm's import graph. Its tests list every package
// with what it may import (the allowed table in deptest_test.go, the one
// place the permitted arrows are written) and fail, naming the arrow, when a
// package imports one above it, when anything imports cmd/, or when
// production code links testing. They also fail when the package graph in
// ARCHITECTURE.md no longer matches go list. It has no production code.
package deptest
