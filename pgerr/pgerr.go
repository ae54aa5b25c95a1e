package pgerr

import (
	"errors"
	"fmt"
)

// SQLSTATE codes used by Weir. The names follow PostgreSQL's errcodes.txt.
const (
	SuccessfulCompletion         = "00000"
	FeatureNotSupported          = "0A000"
	DataException                = "22000"
	StringDataRightTruncation    = "22001"
	NumericValueOutOfRange       = "22003"
	NullValueNotAllowed          = "22004"
	InvalidDatetimeFormat        = "22007"
	DatetimeFieldOverflow        = "22008"
	DivisionByZero               = "22012"
	InvalidParameterValue        = "22023"
	CharacterNotInRepertoire     = "22021"
	InvalidTextRepresentation    = "22P02"
	BadCopyFileFormat            = "22P04"
	IntegrityConstraintViolation = "23000"
	NotNullViolation             = "23502"
	UniqueViolation              = "23505"
	InvalidCursorState           = "24000"
	InvalidTransactionState      = "25000"
	InvalidPassword              = "28P01"
	InvalidAuthorization         = "28000"
	SyntaxError                  = "42601"
	InsufficientPrivilege        = "42501"
	UndefinedColumn              = "42703"
	UndefinedFunction            = "42883"
	UndefinedTable               = "42P01"
	UndefinedObject              = "42704"
	UndefinedParameter           = "42P02"
	DuplicateObject              = "42710"
	DuplicateTable               = "42P07"
	DuplicateColumn              = "42701"
	AmbiguousColumn              = "42702"
	DatatypeMismatch             = "42804"
	GroupingError                = "42803"
	InvalidColumnReference       = "42P10"
	WrongObjectType              = "42809"
	InvalidObjectDefinition      = "42P17"
	ObjectNotInPrerequisiteState = "55000"
	QueryCanceled                = "57014"
	AdminShutdown                = "57P01"
	DiskFull                     = "53100"
	OutOfMemory                  = "53200"
	ProgramLimitExceeded         = "54000"
	IOError                      = "58030"
	ProtocolViolation            = "08P01"
	InternalError                = "XX000"
)

// Error is an error with a SQLSTATE. Pos is a 1-based byte offset into the
// statement text the error refers to (0 when unknown); Line and Col are the
// 1-based line and column of that offset in the text the user submitted
// (a file or a query string), filled in by whoever knows the text.
type Error struct {
	Code    string
	Message string
	Detail  string
	Hint    string
	Pos     int
	Line    int
	Col     int
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the given code and formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Newf is New; it exists so call sites read naturally.
func Newf(code, format string, args ...any) *Error { return New(code, format, args...) }

// WithPos returns a copy of e positioned at the 1-based byte offset pos.
func (e *Error) WithPos(pos int) *Error {
	c := *e
	c.Pos = pos
	return &c
}

// WithDetail returns a copy of e with a detail line.
func (e *Error) WithDetail(format string, args ...any) *Error {
	c := *e
	c.Detail = fmt.Sprintf(format, args...)
	return &c
}

// WithHint returns a copy of e with a hint line.
func (e *Error) WithHint(format string, args ...any) *Error {
	c := *e
	c.Hint = fmt.Sprintf(format, args...)
	return &c
}

// Wrap turns any error into a *Error. A *Error anywhere in err's chain is
// returned as is; anything else becomes an internal error (XX000) whose
// message is err's text.
func Wrap(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: InternalError, Message: err.Error()}
}

// Code returns err's SQLSTATE, or XX000 for an error that has none.
func Code(err error) string {
	if err == nil {
		return SuccessfulCompletion
	}
	return Wrap(err).Code
}

// LineCol converts a 1-based byte offset in text into a 1-based line and column
// (columns count characters, not bytes).
func LineCol(text string, pos int) (line, col int) {
	if pos <= 0 {
		return 0, 0
	}
	line, col = 1, 1
	for i, r := range text {
		if i >= pos-1 {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
