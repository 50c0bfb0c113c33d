//go:build !race

package main

const groupRace = false
