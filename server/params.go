package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// reportedParam is a setting PostgreSQL reports with ParameterStatus at
// startup and whenever it changes (GUC_REPORT).
type reportedParam struct {
	name string // as reported (PostgreSQL's spelling)
	// fixed values are what Weir always uses, whatever the session says:
	// it speaks only UTF8, ISO dates, UTC and integer timestamps.
	fixed string
	def   string
}

var reportedParams = []reportedParam{
	{name: "application_name"},
	{name: "client_encoding", fixed: "UTF8"},
	{name: "DateStyle", fixed: "ISO, MDY"},
	{name: "default_transaction_read_only", def: "off"},
	{name: "integer_datetimes", fixed: "on"},
	{name: "IntervalStyle", fixed: "postgres"},
	{name: "is_superuser", def: "on"},
	{name: "server_encoding", fixed: "UTF8"},
	{name: "server_version", fixed: ServerVersion},
	{name: "session_authorization"},
	{name: "standard_conforming_strings", fixed: "on"},
	{name: "TimeZone", fixed: "UTC"},
}

// reportParams sends ParameterStatus for every reported setting whose value
// differs from what the client was last told (all of them with all).
func (c *conn) reportParams(all bool) {
	for _, p := range reportedParams {
		v := p.fixed
		if v == "" {
			var ok bool
			v, ok = c.sess.Setting(strings.ToLower(p.name))
			if !ok {
				v = p.def
				if p.name == "session_authorization" {
					v = c.user
				}
			}
		}
		if old, ok := c.reported[p.name]; ok && old == v && !all {
			continue
		}
		c.reported[p.name] = v
		c.send(&pgproto3.ParameterStatus{Name: p.name, Value: v})
	}
}

// applyStartupParams passes the startup message's settings to the session
// (PostgreSQL applies them as if by SET). Errors are ignored: an unknown
// setting must not keep a client out.
func (c *conn) applyStartupParams(params map[string]string) {
	set := func(k, v string) {
		k = strings.ToLower(k)
		switch k {
		case "user", "database", "replication", "options", "client_encoding", "datestyle",
			"timezone", "intervalstyle", "server_encoding", "integer_datetimes", "server_version":
			return
		}
		if strings.HasPrefix(k, "_pq_.") {
			return
		}
		_ = c.sess.SetSetting(k, v)
	}
	_ = c.sess.SetSetting("session_authorization", c.user)
	for k, v := range params {
		set(k, v)
	}
	// options: "-c name=value --name=value ..." (backslash escapes spaces).
	for _, opt := range splitOptions(params["options"]) {
		switch {
		case strings.HasPrefix(opt, "--"):
			opt = opt[2:]
		case opt == "-c":
			continue
		case strings.HasPrefix(opt, "-c"):
			opt = opt[2:]
		}
		if k, v, ok := strings.Cut(opt, "="); ok {
			set(strings.ReplaceAll(k, "-", "_"), v)
		}
	}
}

func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ' ' || r == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// parseDurationSetting reads a time setting such as statement_timeout:
// a number of milliseconds, or a number with a unit (ms, s, min, h, d).
func parseDurationSetting(v string) time.Duration {
	v = strings.Trim(strings.TrimSpace(v), "'")
	if v == "" {
		return 0
	}
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil || n <= 0 {
		return 0
	}
	unit := time.Millisecond
	switch strings.TrimSpace(strings.ToLower(v[i:])) {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "min":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0
	}
	return time.Duration(n * float64(unit))
}
