package server

import "testing"

// newTestBackend returns the backend protocol tests run against.
func newTestBackend(t testing.TB) Backend { return newFakeBackend() }
