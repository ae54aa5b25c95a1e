// Package sql parses Weir's SQL (PostgreSQL's dialect plus the streaming
// statements) into the AST of ast.go, and formats the AST back into SQL.
//
// # Layers
//
// Text goes through four steps:
//
//  1. ${NAME} expansion (params.go), when ParseOptions.Params is set: outside
//     comments, including inside strings, leaving a CREATE TEMPLATE's own
//     parameters alone. A substitution map keeps positions pointing into the
//     submitted text.
//  2. The lexer (lexer.go) applies PostgreSQL's lexical rules: identifiers
//     (unquoted ones folded to lower case), "quoted" identifiers, 'strings',
//     E'escapes', $$dollar$$ and $tag$ strings, numbers, $n parameters,
//     operators, nested /* */ and -- comments. The token stream is cut into
//     statements at ';' outside parentheses (script.go).
//  3. Weir's own statements (CREATE SOURCE/TABLE/SINK/JOB/TEMPLATE/SNAPSHOT,
//     ALTER JOB, DRAIN/CANCEL JOB, DROP, SHOW, EXPLAIN, SET, transactions,
//     COPY) are parsed by hand, by recursive descent on the tokens
//     (parser.go).
//  4. SELECT, VALUES, INSERT, UPDATE, DELETE and scalar expressions go
//     through TiDB's parser: the rewriter (rewrite.go) turns the tokens into
//     text TiDB reads in ANSI_QUOTES mode, replacing what TiDB cannot read
//     (literals and $n become '?' markers, identifiers are always quoted,
//     casts, subscripts, ARRAY, ANY(array), window table functions and
//     PostgreSQL operators become placeholders); TiDB provides operator
//     precedence, joins, subqueries, set operations, CTEs, ORDER BY and
//     LIMIT; the converter (convert.go) builds Weir's AST from TiDB's,
//     resolving the placeholders.
//
// # Positions
//
// Every AST node carries a Pos (1-based byte offset, line and column in
// characters) into the whole submitted text, pointing where the construct
// starts: a column reference at its first identifier, a function call at its
// name, a literal at its first character, a binary expression at its left
// operand. Each token the rewriter emits records the offset of the original
// construct it stands for, and TiDB reports each expression's offset in the
// rewritten text, so positions map back exactly. Syntax errors are *pgerr.Error
// with SQLSTATE 42601 and PostgreSQL's message (`syntax error at or near "X"`,
// `syntax error at end of input`) positioned at the offending original token.
// ParseScript reports one error per failing statement and goes on.
//
// # Concurrency
//
// All entry points are safe for concurrent use. TiDB parsers are not, so
// they are kept in a sync.Pool; the package has no other mutable state.
//
// # Imports
//
// sql imports only datum and pgerr from Weir, and TiDB's parser packages. It
// must not import the planner, the executor or the catalog: they import sql.
package sql
