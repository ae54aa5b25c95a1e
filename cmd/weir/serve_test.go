package main

import "testing"

// The console accepts the passwords psql's SCRAM accepts: --password
// under any user name, --users under that user only.
func TestAuthorizer(t *testing.T) {
	if authorizer("", nil) != nil {
		t.Fatal("no password: the console must not ask for one")
	}
	auth := authorizer("shared", map[string]string{"ann": "a-pw"})
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"ann", "a-pw", true}, {"ann", "shared", true}, {"bob", "shared", true}, {"bob", "a-pw", false},
		{"ann", "wrong", false}, {"", "", false}, {"ann", "a-pw ", false},
	} {
		if got := auth(c.user, c.pw); got != c.ok {
			t.Errorf("authorize(%q, %q) = %v, want %v", c.user, c.pw, got, c.ok)
		}
	}
	only := authorizer("", map[string]string{"ann": "a-pw"})
	if only("bob", "a-pw") || !only("ann", "a-pw") || only("ann", "") {
		t.Error("--users alone: only the listed user with their password")
	}
}
