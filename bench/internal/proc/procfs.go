package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clkTck is USER_HZ, the unit of the times in /proc/PID/stat: 100 on every
// Linux architecture Go runs on.
const clkTck = 100

// CPUSeconds returns the user plus system CPU time of a running process,
// all its threads, in seconds. Unlike rusage, it can be read while the
// process runs, so a benchmark can count a window of a seeder's life.
func CPUSeconds(pid int) (float64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return float64(ut+st) / clkTck, nil
}

// State returns the state letter of a process ('R', 'S', 'T' when stopped,
// …), or 0 if it cannot be read.
func State(pid int) byte {
	f, err := statFields(pid)
	if err != nil || len(f) == 0 || len(f[0]) == 0 {
		return 0
	}
	return f[0][0]
}

// statFields returns the fields of /proc/PID/stat from the third (state)
// on: the second, the command name in parentheses, may hold spaces, so the
// fields are counted from after its last ')'.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("bad /proc stat")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// StatusKiB returns a field of /proc/PID/status counted in kB (VmHWM,
// RssAnon, …), in KiB.
func StatusKiB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}
