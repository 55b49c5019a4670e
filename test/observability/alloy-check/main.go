// alloy-check parses Grafana Alloy configuration files with Alloy's own syntax package
// (github.com/grafana/alloy/syntax: the parser and evaluator Alloy itself uses) and decodes
// every component block into a copy of the arguments of the Alloy v1.5 components Prism uses.
// The Alloy binary is not served by the Go module proxy; the syntax module is. What it proves:
// the file parses; every component is one Prism knows (an unknown one is an error); every
// attribute and block is one the component accepts, with the right type, required ones present;
// every reference names a declared component's export of the right kind.
//
// Usage: alloy-check FILE...   (exit 1 with one line per problem)
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/vm"
)

// Exports of components, as other components see them.
type (
	Target       map[string]string
	LogsReceiver struct{ from string }
	RelabelRules struct{ from string }
)

type RelabelRule struct {
	SourceLabels []string `alloy:"source_labels,attr,optional"`
	Separator    string   `alloy:"separator,attr,optional"`
	Regex        string   `alloy:"regex,attr,optional"`
	Modulus      uint64   `alloy:"modulus,attr,optional"`
	TargetLabel  string   `alloy:"target_label,attr,optional"`
	Replacement  string   `alloy:"replacement,attr,optional"`
	Action       string   `alloy:"action,attr,optional"`
}

type DiscoveryKubernetes struct {
	APIServer  string `alloy:"api_server,attr,optional"`
	Role       string `alloy:"role,attr"`
	Namespaces *struct {
		OwnNamespace bool     `alloy:"own_namespace,attr,optional"`
		Names        []string `alloy:"names,attr,optional"`
	} `alloy:"namespaces,block,optional"`
	Selectors []struct {
		Role  string `alloy:"role,attr"`
		Label string `alloy:"label,attr,optional"`
		Field string `alloy:"field,attr,optional"`
	} `alloy:"selectors,block,optional"`
}

type DiscoveryDocker struct {
	Host               string `alloy:"host,attr"`
	Port               int    `alloy:"port,attr,optional"`
	HostNetworkingHost string `alloy:"host_networking_host,attr,optional"`
	RefreshInterval    string `alloy:"refresh_interval,attr,optional"`
	Filters            []struct {
		Name   string   `alloy:"name,attr"`
		Values []string `alloy:"values,attr"`
	} `alloy:"filter,block,optional"`
}

type DiscoveryRelabel struct {
	Targets []Target      `alloy:"targets,attr"`
	Rules   []RelabelRule `alloy:"rule,block,optional"`
}

type LocalFileMatch struct {
	PathTargets []Target `alloy:"path_targets,attr"`
	SyncPeriod  string   `alloy:"sync_period,attr,optional"`
}

type LokiSourceFile struct {
	Targets     []Target       `alloy:"targets,attr"`
	ForwardTo   []LogsReceiver `alloy:"forward_to,attr"`
	Encoding    string         `alloy:"encoding,attr,optional"`
	TailFromEnd bool           `alloy:"tail_from_end,attr,optional"`
}

type LokiSourceDocker struct {
	Host            string            `alloy:"host,attr"`
	Targets         []Target          `alloy:"targets,attr"`
	ForwardTo       []LogsReceiver    `alloy:"forward_to,attr"`
	Labels          map[string]string `alloy:"labels,attr,optional"`
	RelabelRules    RelabelRules      `alloy:"relabel_rules,attr,optional"`
	RefreshInterval string            `alloy:"refresh_interval,attr,optional"`
}

type LokiProcess struct {
	ForwardTo []LogsReceiver `alloy:"forward_to,attr"`
	CRI       []struct {
		MaxPartialLines int `alloy:"max_partial_lines,attr,optional"`
	} `alloy:"stage.cri,block,optional"`
	JSON []struct {
		Expressions   map[string]string `alloy:"expressions,attr"`
		Source        string            `alloy:"source,attr,optional"`
		DropMalformed bool              `alloy:"drop_malformed,attr,optional"`
	} `alloy:"stage.json,block,optional"`
	Labels []struct {
		Values map[string]string `alloy:"values,attr"`
	} `alloy:"stage.labels,block,optional"`
}

type LokiWrite struct {
	Endpoints []struct {
		Name          string            `alloy:"name,attr,optional"`
		URL           string            `alloy:"url,attr"`
		Headers       map[string]string `alloy:"headers,attr,optional"`
		BatchWait     string            `alloy:"batch_wait,attr,optional"`
		BatchSize     string            `alloy:"batch_size,attr,optional"`
		RemoteTimeout string            `alloy:"remote_timeout,attr,optional"`
	} `alloy:"endpoint,block,optional"`
	ExternalLabels map[string]string `alloy:"external_labels,attr,optional"`
}

type component struct {
	args    func() any
	exports map[string]any // export name -> placeholder of its type
}

var components = map[string]component{
	"discovery.kubernetes": {func() any { return &DiscoveryKubernetes{} }, map[string]any{"targets": []Target{}}},
	"discovery.docker":     {func() any { return &DiscoveryDocker{} }, map[string]any{"targets": []Target{}}},
	"discovery.relabel":    {func() any { return &DiscoveryRelabel{} }, map[string]any{"output": []Target{}, "rules": RelabelRules{}}},
	"local.file_match":     {func() any { return &LocalFileMatch{} }, map[string]any{"targets": []Target{}}},
	"loki.source.file":     {func() any { return &LokiSourceFile{} }, map[string]any{}},
	"loki.source.docker":   {func() any { return &LokiSourceDocker{} }, map[string]any{}},
	"loki.process":         {func() any { return &LokiProcess{} }, map[string]any{"receiver": LogsReceiver{}}},
	"loki.write":           {func() any { return &LokiWrite{} }, map[string]any{"receiver": LogsReceiver{}}},
}

// scope: every declared component's exports under its dotted name and label, plus the stdlib
// functions Alloy v1.5 has and syntax v0.1.0 predates (sys.env).
func scope(blocks []*ast.BlockStmt) *vm.Scope {
	root := map[string]any{"sys": map[string]any{"env": func(name string) string { return "node-a" }}}
	for _, b := range blocks {
		c, ok := components[strings.Join(b.Name, ".")]
		if !ok || b.Label == "" {
			continue
		}
		m := root
		for _, part := range b.Name {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[b.Label] = c.exports
	}
	return &vm.Scope{Variables: root}
}

func check(path string) []string {
	src, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	file, err := parser.ParseFile(path, src)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	var problems []string
	var blocks []*ast.BlockStmt
	seen := map[string]bool{}
	for _, stmt := range file.Body {
		b, ok := stmt.(*ast.BlockStmt)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: only component blocks are expected at the top level", path))
			continue
		}
		name := strings.Join(b.Name, ".")
		if _, ok := components[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown component %s", path, name))
			continue
		}
		if b.Label == "" {
			problems = append(problems, fmt.Sprintf("%s: component %s needs a label", path, name))
		}
		id := name + "." + b.Label
		if seen[id] {
			problems = append(problems, fmt.Sprintf("%s: component %s declared twice", path, id))
		}
		seen[id] = true
		blocks = append(blocks, b)
	}
	sc := scope(blocks)
	for _, b := range blocks {
		args := components[strings.Join(b.Name, ".")].args()
		if err := vm.New(b.Body).Evaluate(sc, args); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s %q: %v", path, strings.Join(b.Name, "."), b.Label, err))
		}
	}
	return problems
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: alloy-check FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		for _, p := range check(path) {
			fmt.Fprintln(os.Stderr, p)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
