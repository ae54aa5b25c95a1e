package server

import (
	"github.com/weir-sql/weir/engine"
)

// EngineBackend returns the Backend of an embedded engine: every
// connection gets its own engine session. (Register the pg_catalog tables
// and functions on the engine first: pgcatalog.Register(e).)
func EngineBackend(e *engine.Engine) Backend { return engineBackend{e} }

type engineBackend struct{ e *engine.Engine }

func (b engineBackend) NewSession(user, database string) engine.SessionAPI {
	return b.e.NewSession()
}
