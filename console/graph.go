package console

import (
	"strings"
)

// Graph is a job's fused operator graph, read from EXPLAIN JOB: stages in
// data-flow order, each with its operators by stable name, and the
// shuffles between stages as edges.
type Graph struct {
	Header   string   `json:"header"` // "job name  (options)"
	Stages   []*Stage `json:"stages"`
	Edges    []Edge   `json:"edges"`
	Warnings []string `json:"warnings,omitempty"`
}

// Stage is one stage of a Graph, with its live figures (stats.go) when the
// job runs.
type Stage struct {
	Name   string     `json:"name"`   // "s0"
	Detail string     `json:"detail"` // "source readings  parallelism auto"
	Ops    []Operator `json:"ops"`
	StageStats
}

// Operator is one fused operator: its stable name and EXPLAIN's
// description; Side marks a tee's side chain (↳ in EXPLAIN).
type Operator struct {
	Name       string `json:"name"`
	Desc       string `json:"desc"`
	Stateful   bool   `json:"stateful"`
	Side       bool   `json:"side,omitempty"`
	StateBytes int64  `json:"state_bytes"`
}

// Edge is a shuffle from one stage to another.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	By   string `json:"by"` // "hash(device)", "nothing (one global key)"
}

// parseExplain reads the plan part of EXPLAIN JOB's output (the tree
// planner.ExplainJob prints, whose format tests pin as text): the lines
// up to "runtime:".
func parseExplain(lines []string) *Graph {
	g := &Graph{Stages: []*Stage{}, Edges: []Edge{}}
	var cur *Stage
	for i, line := range lines {
		if i == 0 {
			g.Header = line
			continue
		}
		if strings.HasPrefix(line, "runtime:") {
			break
		}
		if strings.HasPrefix(line, "WARNING: ") {
			g.Warnings = append(g.Warnings, strings.TrimPrefix(line, "WARNING: "))
			continue
		}
		body, depth := treeLine(line)
		switch {
		case depth == 1 && strings.HasPrefix(body, "stage "):
			name, detail, _ := strings.Cut(strings.TrimPrefix(body, "stage "), "  ")
			cur = &Stage{Name: name, Detail: detail}
			g.Stages = append(g.Stages, cur)
		case depth == 2 && cur != nil && strings.HasPrefix(body, "▼ shuffle by "):
			rest := strings.TrimPrefix(body, "▼ shuffle by ")
			if k := strings.LastIndex(rest, " to "); k >= 0 {
				g.Edges = append(g.Edges, Edge{From: cur.Name, To: rest[k+4:], By: rest[:k]})
			}
		case depth == 2 && cur != nil:
			side := strings.HasPrefix(body, "↳ ")
			body = strings.TrimPrefix(body, "↳ ")
			name, desc, _ := strings.Cut(body, "  ")
			cur.Ops = append(cur.Ops, Operator{Name: name, Desc: desc, Side: side, Stateful: strings.Contains(desc, "[stateful]")})
		}
	}
	return g
}

// treeLine strips the tree drawing ("├── ", "│   ", "└── ", "    ") off
// an EXPLAIN line and returns its depth: 1 for a stage, 2 for an operator.
func treeLine(line string) (string, int) {
	depth := 0
	for {
		switch {
		case strings.HasPrefix(line, "├── "), strings.HasPrefix(line, "└── "):
			return line[len("├── "):], depth + 1
		case strings.HasPrefix(line, "│   "):
			line = line[len("│   "):]
		case strings.HasPrefix(line, "    "):
			line = line[4:]
		default:
			return line, depth
		}
		depth++
	}
}

// sinkTable returns the table a graph writes into ("Sink table NAME ..."),
// or "".
func (g *Graph) sinkTable() string {
	for _, st := range g.Stages {
		for _, op := range st.Ops {
			if rest, ok := strings.CutPrefix(op.Desc, "Sink table "); ok {
				name, _, _ := strings.Cut(rest, " ")
				return name
			}
		}
	}
	return ""
}
