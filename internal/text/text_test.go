package text

import (
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "5 minutes"},
		{time.Minute, "1 minute"},
		{90 * time.Second, "90 seconds"},
		{10 * time.Minute, "10 minutes"},
		{time.Second, "1 second"},
		{30 * time.Second, "30 seconds"},
		{time.Hour, "1 hour"},
		{2 * time.Hour, "2 hours"},
		{90 * time.Minute, "90 minutes"},
		{1500 * time.Millisecond, "1 second"}, // rounded down, never up
		{59*time.Second + 999*time.Millisecond, "59 seconds"},
		{0, "0 seconds"},
		{-time.Minute, "0 seconds"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}
