package humanize

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"262144", 262144}, {"256KiB", 256 << 10}, {"256k", 256 << 10}, {"1MiB", 1 << 20},
		{"16MB", 16e6}, {"1.5GiB", 3 << 29}, {"2 GiB", 2 << 30},
		// The forms bench/lab's and bench/transfer's own parsers read
		// before they used this one, with the same values.
		{"64MiB", 64 << 20}, {"16M", 16 << 20}, {"1G", 1 << 30}, {"512K", 512 << 10}, {"128KiB", 128 << 10}, {"100B", 100}, {" 16 MiB", 16 << 20},
	}
	for _, tt := range tests {
		if got, err := ParseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "abc", "12XB", "-5", "1e999"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = nil error, want one", bad)
		}
	}
	if got, err := ParseRate(" 1MiB/s"); err != nil || got != 1<<20 {
		t.Errorf("ParseRate(1MiB/s) = %d, %v; want %d", got, err, 1<<20)
	}
}

func TestSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {3 << 29, "1.5 GiB"}, {20 << 20, "20 MiB"}} {
		if got := Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, d := range []struct {
		d    time.Duration
		want string
	}{{4 * time.Second, "4s"}, {291 * time.Second, "4m51s"}, {2*time.Hour + 5*time.Minute, "2h05m"}, {300 * time.Hour, "12d"}} {
		if got := Duration(d.d); got != d.want {
			t.Errorf("Duration(%v) = %q, want %q", d.d, got, d.want)
		}
	}
	if got := Elapsed(1234 * time.Millisecond); got != "1.2s" {
		t.Errorf("Elapsed(1.234s) = %q, want 1.2s", got)
	}
}

func TestShortSizeFitsSevenCharacters(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{999, "999 B"}, {1000, "1.0K"}, {1_000_000, "976.6K"}, {1_500_000, "1.4M"}, {5 << 40, "5.0T"}} {
		if got := ShortSize(tt.n); got != tt.want {
			t.Errorf("ShortSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
