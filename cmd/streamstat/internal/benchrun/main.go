// Command benchrun runs a shell command and prints, on stderr, its wall
// time, its CPU time (user + system) and the peak resident memory of the
// largest process it ran (getrusage of the waited-for children), so that
// scripts/bench-cli.sh needs no /usr/bin/time.
//
//	benchrun 'cat big.txt | streamstat distinct'
//
// Output: "wall_s=1.234 cpu_s=2.100 maxrss_kib=12345".
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchrun 'shell command'")
		os.Exit(2)
	}
	cmd := exec.Command("/bin/sh", "-c", os.Args[1])
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
			os.Exit(1)
		}
	}
	// The shell's rusage includes the children it waited for; ru_maxrss
	// is then the largest of them (Linux: KiB).
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Fprintf(os.Stderr, "wall_s=%.3f cpu_s=%.3f maxrss_kib=%d\n", wall.Seconds(), cpu.Seconds(), ru.Maxrss)
	os.Exit(code)
}
