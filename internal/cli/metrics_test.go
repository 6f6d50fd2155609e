package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	yaml "github.com/goccy/go-yaml"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// docsMetrics are the metric families docs/metrics.md's table lists, with their types.
func docsMetrics(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(devstack_[a-z0-9_]+)` \\| ([a-z]+) \\|")
	out := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	if len(out) < 20 {
		t.Fatalf("docs/metrics.md: read only %d metric rows: %v", len(out), out)
	}
	return out
}

// metricRefs are the metric families expr reads (a histogram's _bucket, _sum and _count are its family).
func metricRefs(expr string, types map[string]string) []string {
	var out []string
	for _, n := range regexp.MustCompile(`\bdevstack_[a-z0-9_]+`).FindAllString(expr, -1) {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base := strings.TrimSuffix(n, suf); base != n && types[base] == "histogram" {
				n = base
			}
		}
		out = append(out, n)
	}
	return out
}

// TestGrafanaDashboardCoversMetrics: the dashboard has a panel for every metric family docs/metrics.md
// lists, and no panel reads a metric the stack does not expose.
func TestGrafanaDashboardCoversMetrics(t *testing.T) {
	types := docsMetrics(t)
	drawn := map[string]bool{}
	for _, p := range grafanaDashboard().Panels {
		for _, tg := range p.Targets {
			refs := metricRefs(tg.Expr, types)
			if len(refs) == 0 {
				t.Errorf("panel %q: expr %q reads no devstack metric", p.Title, tg.Expr)
			}
			for _, n := range refs {
				if types[n] == "" {
					t.Errorf("panel %q: expr %q reads %s, which docs/metrics.md does not list (the stack does not expose it)", p.Title, tg.Expr, n)
				}
				if types[n] == "histogram" && !strings.Contains(tg.Expr, n+"_") {
					t.Errorf("panel %q: expr %q reads histogram %s without _bucket, _sum or _count", p.Title, tg.Expr, n)
				}
				drawn[n] = true
			}
		}
	}
	for n := range types {
		if !drawn[n] {
			t.Errorf("no dashboard panel draws %s (docs/metrics.md lists it)", n)
		}
	}
}

// TestGrafanaDashboardShape checks the dashboard JSON against what Grafana's dashboard schema wants of
// the fields it sets: ids unique, panels on the 24-column grid without overlapping, every query with a
// refId, the provisioned datasource and the stack variable.
func TestGrafanaDashboardShape(t *testing.T) {
	b, err := json.Marshal(grafanaDashboard())
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Time          struct{ From, To string }
		Templating    struct {
			List []struct {
				Name, Type string
				Datasource struct{ Type, UID string }
				Query      struct{ Query string }
			}
		}
		Panels []struct {
			ID         int
			Type       string
			Title      string
			GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
			Datasource *struct{ Type, UID string }
			Targets    []struct {
				RefID      string `json:"refId"`
				Expr       string
				Datasource struct{ Type, UID string }
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || len(d.UID) > 40 || d.Title == "" || d.SchemaVersion < 36 || d.Time.From == "" || d.Time.To == "" {
		t.Errorf("dashboard header: uid %q title %q schemaVersion %d time %+v", d.UID, d.Title, d.SchemaVersion, d.Time)
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Name != "stack" || d.Templating.List[0].Type != "query" ||
		d.Templating.List[0].Datasource.UID != grafanaDatasourceUID || !strings.Contains(d.Templating.List[0].Query.Query, "stack") {
		t.Errorf("templating: %+v, want the query variable stack on %s", d.Templating.List, grafanaDatasourceUID)
	}
	ids := map[int]bool{}
	cells := map[[2]int]string{} // grid cell -> the panel on it
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID <= 0 {
			t.Errorf("panel %q: id %d repeated or not positive", p.Title, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("panel %q: gridPos %+v off Grafana's 24-column grid", p.Title, g)
		}
		for y := g.Y; y < g.Y+g.H; y++ {
			for x := g.X; x < g.X+g.W; x++ {
				if o, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", o, p.Title, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		switch p.Type {
		case "row":
			if len(p.Targets) != 0 {
				t.Errorf("row %q has queries", p.Title)
			}
			continue
		case "timeseries", "stat":
		default:
			t.Errorf("panel %q: type %q", p.Title, p.Type)
		}
		if p.Title == "" || p.Datasource == nil || p.Datasource.UID != grafanaDatasourceUID || p.Datasource.Type != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] || tg.Datasource.UID != grafanaDatasourceUID {
				t.Errorf("panel %q: query refId %q (repeated or empty), datasource %+v", p.Title, tg.RefID, tg.Datasource)
			}
			refs[tg.RefID] = true
			if !strings.Contains(tg.Expr, `stack=~"$stack"`) {
				t.Errorf("panel %q: expr %q does not select the dashboard's stacks", p.Title, tg.Expr)
			}
		}
	}
}

// TestMetricsGrafanaFiles runs `devstack metrics grafana`: the datasource points at --prometheus-url,
// the provider reads the directory the dashboard was written to.
func TestMetricsGrafanaFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g")
	stdout := mustCLI(t, "", "metrics", "grafana", "--out", out, "--prometheus-url", "http://127.0.0.1:19090")
	var ds grafanaDatasources
	var prov grafanaProviders
	for f, v := range map[string]any{"provisioning/datasources/devstack.yaml": &ds, "provisioning/dashboards/devstack.yaml": &prov} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, filepath.Join(out, f)) {
			t.Errorf("stdout does not list %s:\n%s", f, stdout)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", f, err, b)
		}
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://127.0.0.1:19090" ||
		ds.Datasources[0].UID != grafanaDatasourceUID || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("datasources: %+v", ds)
	}
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || !filepath.IsAbs(prov.Providers[0].Options.Path) {
		t.Fatalf("providers: %+v", prov)
	}
	b, err := os.ReadFile(filepath.Join(prov.Providers[0].Options.Path, "devstack.json"))
	if err != nil {
		t.Fatalf("the provider's path has no dashboard: %v", err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil || d.UID != "devstack" || len(d.Panels) == 0 {
		t.Fatalf("dashboard: %v %+v", err, d)
	}

	mustCLI(t, "", "metrics", "grafana", "--out", out, "--dashboards-path", "/var/lib/grafana/dashboards")
	b, _ = os.ReadFile(filepath.Join(out, "provisioning/dashboards/devstack.yaml"))
	if !strings.Contains(string(b), "path: /var/lib/grafana/dashboards") {
		t.Errorf("--dashboards-path not in the provider:\n%s", b)
	}
	if _, _, err := runCLI(t, "", "metrics", "grafana", "--out", out, "--prometheus-url", "127.0.0.1:9090"); err == nil || !strings.Contains(err.Error(), "--prometheus-url") {
		t.Errorf("a URL without a scheme: err = %v", err)
	}
}

// TestMetricsPrometheusWithoutStack: with no stack running, the target is devstack.yaml's gateway
// address and stderr says so; without a gateway there is nothing to scrape.
func TestMetricsPrometheusWithoutStack(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no registry of running stacks
	cases := []struct {
		name, yaml, target, err string
		interval                string
		timeout                 string
	}{
		{name: "defaults", yaml: "name: shop\ngateway: {enabled: true}\n", target: "127.0.0.1:8080", interval: "15s", timeout: "10s"},
		{name: "port and any-address host", yaml: "name: shop\ngateway: {enabled: true, host: 0.0.0.0, http_port: 18080}\n", target: "127.0.0.1:18080", interval: "1s", timeout: "1s"},
		{name: "no gateway", yaml: "name: shop\nbroker: {enabled: true}\n", err: "runs none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "devstack.yaml")
			if err := os.WriteFile(cfg, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"metrics", "prometheus", "--file", cfg}
			if c.interval != "" {
				args = append(args, "--interval", c.interval)
			}
			out, errOut, err := runCLI(t, "", args...)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), cfg) {
					t.Fatalf("err = %v, want %q naming %s", err, c.err, cfg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(errOut, "no stack runs") || !strings.Contains(errOut, c.target) {
				t.Errorf("stderr does not note the fallback to devstack.yaml:\n%s", errOut)
			}
			var pc promConfig
			if err := yaml.Unmarshal([]byte(out), &pc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want := promConfig{Global: promGlobal{ScrapeInterval: c.interval}, ScrapeConfigs: []scrapeConfig{{
				JobName: "devstack", MetricsPath: "/__devstack/metrics", HonorLabels: true, ScrapeTimeout: c.timeout,
				StaticConfigs: []staticConfig{{Targets: []string{c.target}, Labels: map[string]string{"stack": "shop"}}},
			}}}
			if fmt.Sprint(pc) != fmt.Sprint(want) {
				t.Errorf("config:\n%+v\nwant\n%+v\n%s", pc, want, out)
			}
		})
	}
	_, _, err := runCLI(t, "", "metrics", "prometheus", "--file", filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("no stack and no devstack.yaml: err = %v", err)
	}
}

// promDuration writes what Prometheus reads.
func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Second: "1s", 15 * time.Second: "15s", 1500 * time.Millisecond: "1500ms", 2 * time.Minute: "120s"} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestMetricsDocExamples: what docs/metrics.md shows `devstack metrics prometheus` print for the sample
// devstack.yaml (no stack running) and `devstack metrics grafana --out grafana` write is what they do.
func TestMetricsDocExamples(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	root := testkit.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Prometheus and Grafana\n")
	if !ok {
		t.Fatal(`docs/metrics.md has no "## Prometheus and Grafana"`)
	}
	var blocks []string
	for rest := section; ; {
		_, after, ok := strings.Cut(rest, "\n```text\n")
		if !ok {
			break
		}
		body, tail, _ := strings.Cut(after, "\n```\n")
		blocks = append(blocks, body+"\n")
		rest = tail
	}
	if len(blocks) != 2 {
		t.Fatalf("want 2 text blocks (the scrape config, the Grafana files), found %d", len(blocks))
	}
	if _, err := os.Stat(filepath.Join(root, ".devstack", control.EndpointFile)); err == nil {
		t.Skip("a stack runs from the repository's devstack.yaml; the example is the one without a stack")
	}
	out := mustCLI(t, "", "metrics", "prometheus", "--file", filepath.Join(root, "devstack.yaml"))
	if out != blocks[0] {
		t.Errorf("docs/metrics.md shows the scrape config\n%s\nbut the command prints\n%s", blocks[0], out)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	out = mustCLI(t, "", "metrics", "grafana", "--out", "grafana")
	if out != blocks[1] {
		t.Errorf("docs/metrics.md lists the Grafana files\n%s\nbut the command writes\n%s", blocks[1], out)
	}
}
