package server

import (
	"crypto/rand"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/pgerr"
	"github.com/xdg-go/scram"
)

// scramIterations is the PBKDF2 iteration count of the stored credentials
// (PostgreSQL's scram_iterations default).
const scramIterations = 4096

// authenticator decides how a client logs in: trust, or SCRAM-SHA-256
// against credentials derived once, at New, from the configured passwords.
type authenticator struct {
	required    bool
	trustRemote bool
	// any holds the credentials of Config.Password (nil if unset); users
	// those of Config.Users.
	any   *scram.StoredCredentials
	users map[string]scram.StoredCredentials
	// mock answers for unknown users so that the exchange looks the same
	// as a wrong password (PostgreSQL's mock authentication).
	mock scram.StoredCredentials
}

func newAuthenticator(cfg Config) (*authenticator, error) {
	a := &authenticator{trustRemote: cfg.TrustRemote, users: map[string]scram.StoredCredentials{}}
	derive := func(user, password string) (scram.StoredCredentials, error) {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return scram.StoredCredentials{}, err
		}
		client, err := scram.SHA256.NewClient(user, password, "")
		if err != nil {
			return scram.StoredCredentials{}, fmt.Errorf("server: password for %q: %w", user, err)
		}
		return client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: scramIterations}), nil
	}
	if cfg.Password != "" {
		c, err := derive("", cfg.Password)
		if err != nil {
			return nil, err
		}
		a.any = &c
		a.required = true
	}
	for u, p := range cfg.Users {
		c, err := derive(u, p)
		if err != nil {
			return nil, err
		}
		a.users[u] = c
		a.required = true
	}
	if a.required {
		var pw [24]byte
		_, _ = rand.Read(pw[:])
		m, err := derive("", fmt.Sprintf("%x", pw))
		if err != nil {
			return nil, err
		}
		a.mock = m
	}
	return a, nil
}

// lookup returns the credentials for user; known is false for a user who
// may not log in (the mock credentials are returned then).
func (a *authenticator) lookup(user string) (creds scram.StoredCredentials, known bool) {
	if c, ok := a.users[user]; ok {
		return c, true
	}
	if a.any != nil {
		return *a.any, true
	}
	return a.mock, false
}

func isLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authenticate runs the authentication exchange for c's user and sends
// AuthenticationOk, or returns the error to report (FATAL).
func (c *conn) authenticate() error {
	a := c.srv.auth
	if !a.required {
		if !a.trustRemote && !isLoopback(c.nc.RemoteAddr()) {
			return pgerr.New(pgerr.InvalidAuthorization,
				"no password is configured, so connections from %s are not trusted", c.nc.RemoteAddr()).
				WithHint("Start the server with a password to accept remote clients.")
		}
		c.send(&pgproto3.AuthenticationOk{})
		return nil
	}
	failed := func() error {
		return pgerr.New(pgerr.InvalidPassword, "password authentication failed for user %q", c.user)
	}
	c.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return errClientGone
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return pgerr.New(pgerr.ProtocolViolation, "expected SASL response, got message type %T", msg)
	}
	if init.AuthMechanism != "SCRAM-SHA-256" {
		return pgerr.New(pgerr.ProtocolViolation, "client selected an invalid SASL authentication mechanism")
	}
	creds, known := a.lookup(c.user)
	// The SCRAM user name is ignored (clients send "" or "*"): the
	// startup message's user is the one being authenticated.
	srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
	if err != nil {
		return err
	}
	conv := srv.NewConversation()
	first, err := conv.Step(string(init.Data))
	if err != nil {
		return pgerr.New(pgerr.ProtocolViolation, "malformed SCRAM message: %v", err)
	}
	c.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(first)})
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	if msg, err = c.be.Receive(); err != nil {
		return errClientGone
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return pgerr.New(pgerr.ProtocolViolation, "expected SASL response, got message type %T", msg)
	}
	final, err := conv.Step(string(resp.Data))
	if err != nil || !conv.Valid() || !known {
		c.srv.cfg.Logf("server: authentication failed for user %q from %s", c.user, c.nc.RemoteAddr())
		return failed()
	}
	c.send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	c.send(&pgproto3.AuthenticationOk{})
	return nil
}
