package sms

import (
	"errors"
	"fmt"
	"github.com/otpgate/otpgate/internal/setting"
	"testing"
)

func TestConfigErrorsWalksJoinAndWrap(t *testing.T) {
	a := &setting.Problem{Name: "URL", Text: "is required"}
	b := &setting.Problem{Name: "METHOD", Text: "must be GET, POST or PUT"}
	c := &setting.Problem{Name: "HEADERS", Text: "line 1: missing colon"}
	tests := []struct {
		name string
		err  error
		want []*setting.Problem
	}{
		{"nil", nil, nil},
		{"single", a, []*setting.Problem{a}},
		{"joined", errors.Join(a, b), []*setting.Problem{a, b}},
		{"wrapped join", fmt.Errorf("sms: %w", errors.Join(a, errors.New("other"), fmt.Errorf("x: %w", c))), []*setting.Problem{a, c}},
		{"unrelated", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := setting.Problems(tt.err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("error %d: got %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	got := (&setting.Problem{Name: "URL", Text: "is required"}).Error()
	if want := "URL: is required"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConfigProblemsEmptyIsNil(t *testing.T) {
	var p configProblems
	if err := p.err(); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}
