package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/weir-sql/weir/internal/pgtest"
)

// Wire-protocol tests (CockroachDB's pgtest, in Weir's form): each file
// under testdata/pgtest sends frontend messages and lists the backend
// messages expected back, one JSON object per line. The same files run
// against a real PostgreSQL with -pg (a temporary server made with initdb,
// when installed) or WEIR_PGTEST_URL, so a difference shows as a failure
// of one of the two runs; intended differences are marked weir_only or
// pg_only. The files run against Weir twice: with a fake session (the
// protocol layer alone) and with the real engine. go test -rewrite
// regenerates the expected output (from Weir; from PostgreSQL with -pg
// -run PGTestPostgres).
//
// Commands:
//
//	send [weir_only|pg_only]
//	<MessageType> <JSON>          one frontend message per line
//	----
//
//	until [weir_only|pg_only] [ignore=Type,Type]
//	<MessageType>                 read until these arrive, in order
//	----
//	<the messages received, as JSON>
//
// Normalization: RowDescription's TableOID and TableAttributeNumber are
// zeroed (Weir does not report them), ErrorResponse and NoticeResponse
// show only Severity, Code, Message, Detail, Hint, Position and Where (not
// PostgreSQL's source file, line and routine), and BackendKeyData's
// values are hidden.

var flagPG = flag.Bool("pg", false, "also run testdata/pgtest against a real PostgreSQL (WEIR_PGTEST_URL, or a temporary server started with initdb/pg_ctl)")

func TestPGTest(t *testing.T) {
	datadriven.Walk(t, "testdata/pgtest", func(t *testing.T, path string) {
		ts := startServer(t, Config{})
		pc := dialPGTest(t, ts.addr, "weir", "weir", "")
		runPGTest(t, path, pc, "weir")
	})
}

// TestPGTestEngine runs the wire tests against the real engine (TestPGTest
// runs them against the fake session, which checks the protocol layer
// alone).
func TestPGTestEngine(t *testing.T) {
	datadriven.Walk(t, "testdata/pgtest", func(t *testing.T, path string) {
		ts, _ := startEngineServer(t, Config{})
		pc := dialPGTest(t, ts.addr, "weir", "weir", "")
		runPGTest(t, path, pc, "weir")
	})
}

func TestPGTestPostgres(t *testing.T) {
	base := os.Getenv("WEIR_PGTEST_URL")
	if base == "" && !*flagPG {
		t.Skip("set -pg or WEIR_PGTEST_URL to run the wire tests against PostgreSQL")
	}
	if base == "" {
		base = pgtest.Start(t).URL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("connecting to %s: %v", base, err)
	}
	defer admin.Close(context.Background())
	i := 0
	datadriven.Walk(t, "testdata/pgtest", func(t *testing.T, path string) {
		i++
		db := fmt.Sprintf("weir_pgtest_%d_%d", os.Getpid(), i)
		if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		defer admin.Exec(context.Background(), "DROP DATABASE "+db+" WITH (FORCE)")
		pw, _ := u.User.Password()
		pc := dialPGTest(t, u.Host, u.User.Username(), db, pw)
		runPGTest(t, path, pc, "pg")
	})
}

// pgtestConn is a raw protocol connection.
type pgtestConn struct {
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialPGTest(t *testing.T, addr, user, db, password string) *pgtestConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	pc := &pgtestConn{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
	pc.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": user, "database": db}})
	if err := pc.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		msg, err := pc.fe.Receive()
		if err != nil {
			t.Fatalf("startup: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			return pc
		case *pgproto3.ErrorResponse:
			t.Fatalf("startup: %s", m.Message)
		case *pgproto3.AuthenticationSASL, *pgproto3.AuthenticationCleartextPassword, *pgproto3.AuthenticationMD5Password:
			t.Fatalf("pgtest connections use trust authentication (got %T)", m)
		}
	}
}

func runPGTest(t *testing.T, path string, pc *pgtestConn, target string) {
	datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
		if (td.HasArg("weir_only") && target != "weir") || (td.HasArg("pg_only") && target != "pg") {
			return td.Expected
		}
		switch td.Cmd {
		case "send":
			for _, line := range strings.Split(td.Input, "\n") {
				line = strings.TrimSpace(line)
				if line == "" {
					continue
				}
				msg, err := parseFrontendLine(line)
				if err != nil {
					td.Fatalf(t, "%v", err)
				}
				pc.fe.Send(msg)
			}
			if err := pc.fe.Flush(); err != nil {
				td.Fatalf(t, "send: %v", err)
			}
			return ""
		case "until":
			ignore := map[string]bool{}
			if arg, ok := td.Arg("ignore"); ok {
				for _, v := range arg.Vals {
					ignore[v] = true
				}
			}
			var out bytes.Buffer
			for _, want := range strings.Fields(td.Input) {
				for {
					_ = pc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
					msg, err := pc.fe.Receive()
					if err != nil {
						fmt.Fprintf(&out, "error: %v\n", err)
						return out.String()
					}
					typ := msgTypeName(msg)
					if !ignore[typ] {
						out.WriteString(renderBackend(msg))
						out.WriteByte('\n')
					}
					if typ == want {
						break
					}
				}
			}
			return out.String()
		}
		td.Fatalf(t, "unknown command %q", td.Cmd)
		return ""
	})
}

func msgTypeName(msg any) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
}

// parseFrontendLine reads "Type {json}". CopyData also takes {"Text": "..."}.
func parseFrontendLine(line string) (pgproto3.FrontendMessage, error) {
	typ, body, _ := strings.Cut(line, " ")
	if strings.TrimSpace(body) == "" {
		body = "{}"
	}
	var msg pgproto3.FrontendMessage
	switch typ {
	case "Query":
		msg = &pgproto3.Query{}
	case "Parse":
		msg = &pgproto3.Parse{}
	case "Bind":
		msg = &pgproto3.Bind{}
	case "Describe":
		var d struct {
			ObjectType string
			Name       string
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, err
		}
		return &pgproto3.Describe{ObjectType: d.ObjectType[0], Name: d.Name}, nil
	case "Close":
		var d struct {
			ObjectType string
			Name       string
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, err
		}
		return &pgproto3.Close{ObjectType: d.ObjectType[0], Name: d.Name}, nil
	case "Execute":
		msg = &pgproto3.Execute{}
	case "Sync":
		return &pgproto3.Sync{}, nil
	case "Flush":
		return &pgproto3.Flush{}, nil
	case "Terminate":
		return &pgproto3.Terminate{}, nil
	case "CopyDone":
		return &pgproto3.CopyDone{}, nil
	case "CopyFail":
		msg = &pgproto3.CopyFail{}
	case "CopyData":
		var d struct{ Text, Data string }
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, err
		}
		if d.Data != "" {
			b, err := hex.DecodeString(d.Data)
			return &pgproto3.CopyData{Data: b}, err
		}
		return &pgproto3.CopyData{Data: []byte(d.Text)}, nil
	default:
		return nil, fmt.Errorf("unknown frontend message %q", typ)
	}
	if err := json.Unmarshal([]byte(body), msg); err != nil {
		return nil, fmt.Errorf("%s: %v", typ, err)
	}
	return msg, nil
}

// renderBackend prints a backend message as one JSON line, normalized.
func renderBackend(msg pgproto3.BackendMessage) string {
	var v any = msg
	switch m := msg.(type) {
	case *pgproto3.ErrorResponse:
		v = noticeJSON("ErrorResponse", (*pgproto3.NoticeResponse)(m))
	case *pgproto3.NoticeResponse:
		v = noticeJSON("NoticeResponse", m)
	case *pgproto3.RowDescription:
		c := *m
		c.Fields = append([]pgproto3.FieldDescription(nil), m.Fields...)
		for i := range c.Fields {
			c.Fields[i].TableOID = 0
			c.Fields[i].TableAttributeNumber = 0
		}
		v = c
	case *pgproto3.BackendKeyData:
		return `{"Type":"BackendKeyData"}`
	case *pgproto3.CopyData:
		if utf8.Valid(m.Data) && !bytes.ContainsFunc(m.Data, func(r rune) bool { return r < 32 && r != '\t' && r != '\n' }) {
			v = struct{ Type, Text string }{"CopyData", string(m.Data)}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "marshal error: " + err.Error()
	}
	return string(b)
}

type noticeFields struct {
	Type     string
	Severity string
	Code     string
	Message  string
	Detail   string `json:",omitempty"`
	Hint     string `json:",omitempty"`
	Position int32  `json:",omitempty"`
	Where    string `json:",omitempty"`
}

func noticeJSON(typ string, m *pgproto3.NoticeResponse) noticeFields {
	return noticeFields{Type: typ, Severity: m.Severity, Code: m.Code, Message: m.Message,
		Detail: m.Detail, Hint: m.Hint, Position: m.Position, Where: m.Where}
}
