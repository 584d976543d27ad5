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

func TestTimeLeft(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Second, "45 seconds"},
		{44*time.Second + time.Millisecond, "45 seconds"}, // rounded up, never down
		{time.Second, "1 second"},
		{300 * time.Millisecond, "1 second"}, // never "0 seconds"
		{0, "1 second"},
		{-time.Minute, "1 second"},
		{59*time.Second + 500*time.Millisecond, "1 minute"},
		{time.Minute, "1 minute"},
		{61 * time.Second, "2 minutes"},
		{2 * time.Minute, "2 minutes"},
		{14*time.Minute + 1*time.Second, "15 minutes"},
		{59*time.Minute + 30*time.Second, "1 hour"},
		{time.Hour, "1 hour"},
		{time.Hour + time.Second, "1 hour and 1 minute"},
		{65 * time.Minute, "1 hour and 5 minutes"},
		{2 * time.Hour, "2 hours"},
		{24 * time.Hour, "24 hours"},
	}
	for _, tt := range tests {
		if got := TimeLeft(tt.d); got != tt.want {
			t.Errorf("TimeLeft(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}
