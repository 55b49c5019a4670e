// The stand-in for natsio/prometheus-nats-exporter, whose Go module the module proxy does not serve. It takes the
// exporter's flags as the manifests pass them (-varz, -jsz=<filter>, -port, -addr, then the NATS monitoring URL)
// and on every GET /metrics scrapes NATS's /varz for real, exposing each numeric field under the exporter's name
// (gnatsd_varz_<field>, nested objects joined with "_": gnatsd_varz_jetstream_stats_storage; a character a metric
// name may not hold becomes "_": gnatsd_varz_http_req_stats__healthz) labelled with the
// server_id, as the exporter does. What it does not do: the other endpoints' metrics (-jsz, -connz, ...), which
// the dev stack's rules and dashboards do not read; their flags are accepted so the manifests' args work.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

var client = &http.Client{Timeout: 5 * time.Second}

// What a Prometheus metric name may not hold: varz has keys such as http_req_stats' "/healthz", which Prometheus
// refuses the whole scrape for ("invalid metric type").
var nameChars = regexp.MustCompile(`[^a-z0-9_]+`)

// flatten collects the numeric (and boolean) leaves of v under prefix, nested keys joined with "_".
func flatten(prefix string, v any, out map[string]float64) {
	switch t := v.(type) {
	case float64:
		out[prefix] = t
	case bool:
		if t {
			out[prefix] = 1
		} else {
			out[prefix] = 0
		}
	case map[string]any:
		for k, child := range t {
			flatten(prefix+"_"+nameChars.ReplaceAllString(strings.ToLower(k), "_"), child, out)
		}
	}
}

func scrape(url string) (map[string]any, error) {
	resp, err := client.Get(strings.TrimRight(url, "/") + "/varz")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/varz: %s", url, resp.Status)
	}
	var varz map[string]any
	return varz, json.NewDecoder(resp.Body).Decode(&varz)
}

func main() {
	varz := flag.Bool("varz", false, "export /varz")
	flag.String("jsz", "", "accepted, not exported by the stand-in")
	for _, name := range []string{"connz", "subz", "routez", "gatewayz", "leafz", "healthz", "accstatz"} {
		flag.Bool(name, false, "accepted, not exported by the stand-in")
	}
	port := flag.Int("port", 7777, "listen port")
	addr := flag.String("addr", "0.0.0.0", "listen address")
	flag.IntVar(port, "p", 7777, "listen port")
	flag.StringVar(addr, "a", "0.0.0.0", "listen address")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 {
		log.Fatal("usage: prometheus-nats-exporter [flags] <NATS monitoring URL>...")
	}
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		for _, url := range urls {
			if !*varz {
				break
			}
			v, err := scrape(url)
			if err != nil {
				// As the exporter: the scrape error is logged and the endpoint still answers, without those series.
				log.Printf("scrape %s: %v", url, err)
				continue
			}
			values := map[string]float64{}
			flatten("gnatsd_varz", v, values)
			names := make([]string, 0, len(values))
			for name := range values {
				names = append(names, name)
			}
			sort.Strings(names)
			id, _ := v["server_id"].(string)
			for _, name := range names {
				fmt.Fprintf(&b, "# TYPE %s gauge\n%s{server_id=%q} %g\n", name, name, id, values[name])
			}
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(b.String()))
	})
	listen := fmt.Sprintf("%s:%d", *addr, *port)
	log.Printf("prometheus-nats-exporter stand-in: serving /metrics on %s for %v", listen, urls)
	log.Fatal(http.ListenAndServe(listen, nil))
}
