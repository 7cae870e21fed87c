// Package chart draws the line charts the labs print (distribution time
// against swarm size, lookup hops against network size) as PNG files, with
// gonum.org/v1/plot. It does no measuring and holds no state.
package chart
