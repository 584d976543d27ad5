//go:build race

package gateway

// raceEnabled: the race detector drops a quarter of what is put in a
// sync.Pool, so pooled buffers are sometimes allocated anew.
const raceEnabled = true
