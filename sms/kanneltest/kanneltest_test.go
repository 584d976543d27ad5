package kanneltest

import (
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseLine(t *testing.T) {
	const prefix = "2026-11-27 03:30:59 [28177] [0] DEBUG: Got message 7: <"
	tests := []struct {
		name   string
		line   string
		want   Message
		wantOK bool
	}{
		{"text", prefix + "12345 +15550100006 text Your code is 123456. + & café>",
			Message{From: "12345", To: "+15550100006", Text: "Your code is 123456. + & café", Coding: "text"}, true},
		{"text with > inside", prefix + "12345 +1555 text a > b>",
			Message{From: "12345", To: "+1555", Text: "a > b", Coding: "text"}, true},
		{"empty text", prefix + "12345 +1555 text>", Message{From: "12345", To: "+1555", Coding: "text"}, true},
		{"ucs-2", prefix + "12345 +1555 ucs-2 %00c%00a%00f%00%E9%00+'%13>",
			Message{From: "12345", To: "+1555", Text: "café ✓", Coding: "ucs-2"}, true},
		{"ucs-2 surrogate pair", prefix + "1 2 ucs-2 %D8%3D%DE%00>",
			Message{From: "1", To: "2", Text: "😀", Coding: "ucs-2"}, true},
		{"data", prefix + "1 2 data caf%E9+x>", Message{From: "1", To: "2", Text: "caf\xe9 x", Coding: "data"}, true},
		{"odd ucs-2", prefix + "1 2 ucs-2 %00c%00>", Message{}, false},
		{"bad escape", prefix + "1 2 data %zz>", Message{}, false},
		{"udh", prefix + "1 2 udh-data %05%00 x>", Message{}, false},
		{"tail of a text with a line break", prefix + "line2 > end>>", Message{}, false},
		{"unterminated", prefix + "1 2 text cut", Message{}, false},
		{"too few fields", prefix + "1 2>", Message{}, false},
		{"other log line", "2026-11-27 03:30:57 [28177] [0] INFO: fakesmsc starting", Message{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseLine(tt.line)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %+v, %v, want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// A message written in several pieces, as a pipe may deliver it, is parsed
// once complete.
func TestSMSLogSplitWrites(t *testing.T) {
	l := newSMSLog()
	line := "2026-11-27 03:30:59 [1] [0] DEBUG: Got message 1: <1 +2 text hello>\n"
	for _, part := range []string{line[:10], line[10:40], line[40:], "2026 [1] [0] INFO: noise\n"} {
		if _, err := io.WriteString(l, part); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _ := l.snapshot()
	if want := []Message{{From: "1", To: "+2", Text: "hello", Coding: "text"}}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("got %+v, want %+v", msgs, want)
	}
	if got := l.String(); !strings.HasSuffix(got, "noise\n") {
		t.Errorf("raw output: got %q, want all of it", got)
	}
}

func TestConnected(t *testing.T) {
	const head = "Status: running, uptime 0d 0h 0m 1s\n\nBox connections:\n"
	const boxUp = "    smsbox:(none), IP 127.0.0.1 (0 queued), (on-line 0d 0h 0m 1s)  \n"
	const smscUp = "\nSMSC connections:\n    FAKE[FAKE]    FAKE:40001 (online 1s, rcvd: sms 0 / dlr 0, sent: sms 0 / dlr 0, failed 0, queued 0 msgs)\n"
	const smscDown = "\nSMSC connections:\n    FAKE[FAKE]    FAKE:40001 (connecting, rcvd: sms 0 / dlr 0, sent: sms 0 / dlr 0, failed 0, queued 0 msgs)\n"
	tests := []struct {
		name, status string
		want         bool
	}{
		{"both up", head + boxUp + smscUp, true},
		{"no smsbox", head + "    (none)\n" + smscUp, false},
		{"fakesmsc not connected", head + boxUp + smscDown, false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		if got := connected(tt.status); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStartSendStop(t *testing.T) {
	k := Start(t)
	const to = "+15550100006"
	send := func(text string) {
		t.Helper()
		u := strings.NewReplacer("$ctx.num", url.QueryEscape(to), "$ctx.msg", url.QueryEscape(text)).Replace(k.SendURL)
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("sendsms: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || string(body) != "0: Accepted for delivery" {
			t.Fatalf("sendsms: got %d %q, want %d %q", resp.StatusCode, body, http.StatusAccepted, "0: Accepted for delivery")
		}
	}
	send("first")
	send("second")
	for _, want := range []string{"first", "second"} {
		got := k.WaitMessage(t, to, 5*time.Second)
		if wantMsg := (Message{From: Sender, To: to, Text: want, Coding: "text"}); got != wantMsg {
			t.Errorf("got %+v, want %+v", got, wantMsg)
		}
	}
	if got := len(k.Messages()); got != 2 {
		t.Errorf("Messages: got %d, want 2", got)
	}

	k.Stop()
	if _, err := http.Get(k.StatusURL); err == nil {
		t.Error("status page still answers after Stop")
	}
	k.Stop() // a second Stop does nothing
	if out := k.Output(); !strings.Contains(out, "bearerbox: ") {
		t.Errorf("Output after Stop: got %q, want the bearerbox's output", out)
	}
}
