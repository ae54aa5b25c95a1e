package sql

// This file fixes the package's entry points; parse.go implements them.

// ParseOptions tune parsing.
type ParseOptions struct {
	// Params maps ${NAME} placeholders to their values (weir run --param,
	// templates). A ${NAME} with no value is an error (42P02) before anything
	// is parsed. Nil leaves ${...} in place (which then is a syntax error).
	Params map[string]string
}
