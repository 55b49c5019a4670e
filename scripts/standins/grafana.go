// The stand-in for grafana/grafana (AGPL and not served by the module proxy: no real Grafana can be had here). It
// does what the dev stack's probes and mounts can observe: as Grafana at start it reads the provisioning directory
// ($GF_PATHS_PROVISIONING: every datasources/*.yaml and dashboards/*.yaml readable, each dashboard provider's
// options.path holding dashboards that parse as JSON, each with a uid and title) and opens its database in
// $GF_PATHS_DATA (a write, as Grafana's SQLite file needs), failing like Grafana does when either is wrong; then it
// serves GET /api/health, GET /metrics (the build and the dashboard count only) and, with the admin's basic auth
// (GF_SECURITY_ADMIN_USER/_PASSWORD), GET /api/search listing the provisioned dashboards. What it does not prove:
// any query, datasource proxy, panel, alert rule, or the rest of Grafana's metrics.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

const version = "13.3.0"

type dashboard struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	Type  string `json:"type"`
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// The dashboard providers' paths ("path: <dir>" under options), read without a YAML library: the stand-in is
// built from the standard library alone.
var pathLine = regexp.MustCompile(`(?m)^\s+path:\s*["']?([^"'\s#]+)`)

func provisioned(dir string) ([]dashboard, error) {
	var found []dashboard
	for _, kind := range []string{"datasources", "dashboards"} {
		files, _ := filepath.Glob(filepath.Join(dir, kind, "*.y*ml"))
		for _, file := range files {
			text, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			if kind != "dashboards" {
				continue
			}
			for _, m := range pathLine.FindAllStringSubmatch(string(text), -1) {
				boards, err := filepath.Glob(filepath.Join(m[1], "*.json"))
				if err != nil || len(boards) == 0 {
					return nil, fmt.Errorf("%s: no dashboards in %s", file, m[1])
				}
				for _, board := range boards {
					raw, err := os.ReadFile(board)
					if err != nil {
						return nil, err
					}
					var d dashboard
					if err := json.Unmarshal(raw, &d); err != nil || d.UID == "" || d.Title == "" {
						return nil, fmt.Errorf("%s: not a dashboard with a uid and a title (%v)", board, err)
					}
					d.Type = "dash-db"
					found = append(found, d)
				}
			}
		}
	}
	return found, nil
}

func main() {
	if len(os.Args) > 1 && strings.Trim(os.Args[1], "-") == "version" {
		fmt.Printf("Version %s (stand-in)\n", version)
		return
	}
	boards, err := provisioned(env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"))
	if err != nil {
		log.Fatalf("provisioning: %v", err)
	}
	db := filepath.Join(env("GF_PATHS_DATA", "/var/lib/grafana"), "grafana.db")
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		log.Fatalf("database: %v", err)
	}
	f.Close()
	user, password := env("GF_SECURITY_ADMIN_USER", "admin"), env("GF_SECURITY_ADMIN_PASSWORD", "admin")
	http.HandleFunc("/api/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"database":"ok","version":%q}`, version)
	})
	http.HandleFunc("/api/search", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(boards)
	})
	// Grafana's own metrics endpoint (on by default, no authentication), which Prometheus scrapes: the series a
	// dashboard count and the build give, nothing of Grafana's request or alerting metrics.
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE grafana_build_info gauge\ngrafana_build_info{edition=\"oss\",version=%q} 1\n", version)
		fmt.Fprintf(w, "# TYPE grafana_stat_totals_dashboard gauge\ngrafana_stat_totals_dashboard %d\n", len(boards))
	})
	listen := ":" + env("GF_SERVER_HTTP_PORT", "3000")
	log.Printf("grafana stand-in %s: %d dashboards provisioned, database %s, listening on %s", version, len(boards), db, listen)
	log.Fatal(http.ListenAndServe(listen, nil))
}
