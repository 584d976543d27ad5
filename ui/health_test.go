package ui

import (
	"context"
	"net/http"
	"testing"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		ready      func(context.Context) error
		path       string
		wantStatus int
		wantText   string
	}{
		{"healthz", nil, "healthz", http.StatusOK, "ok\n"},
		{"healthz, directory down", func(context.Context) error { return errNotReady }, "healthz", http.StatusOK, "ok\n"},
		{"readyz, no check", nil, "readyz", http.StatusOK, "ok\n"},
		{"readyz", func(context.Context) error { return nil }, "readyz", http.StatusOK, "ok\n"},
		{"readyz, directory down", func(context.Context) error { return errNotReady }, "readyz", http.StatusServiceUnavailable, "not ready\n"},
		{"no such page", nil, "nothing-here", http.StatusNotFound, "There is no such page."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPortal(t, flowConfig(), tt.ready)
			p.want(p.get(tt.path), tt.wantStatus, tt.wantText)
		})
	}
}
