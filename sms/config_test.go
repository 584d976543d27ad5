package sms

import (
	"errors"
	"fmt"
	"testing"
)

func TestConfigErrorsWalksJoinAndWrap(t *testing.T) {
	a := &ConfigError{Field: "URL", Problem: "is required"}
	b := &ConfigError{Field: "Method", Problem: "must be GET, POST or PUT"}
	c := &ConfigError{Field: "Headers", Problem: "line 1: missing colon"}
	tests := []struct {
		name string
		err  error
		want []*ConfigError
	}{
		{"nil", nil, nil},
		{"single", a, []*ConfigError{a}},
		{"joined", errors.Join(a, b), []*ConfigError{a, b}},
		{"wrapped join", fmt.Errorf("sms: %w", errors.Join(a, errors.New("other"), fmt.Errorf("x: %w", c))), []*ConfigError{a, c}},
		{"unrelated", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ConfigErrors(tt.err)
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
	got := (&ConfigError{Field: "URL", Problem: "is required"}).Error()
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
