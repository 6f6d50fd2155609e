package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"

	yaml "github.com/goccy/go-yaml"
)

// grafanaDatasourceUID is the uid the provisioned datasource gets and every panel of the dashboard names.
const grafanaDatasourceUID = "devstack-prometheus"

// outFile is one file a command writes.
type outFile struct {
	path string
	data []byte
}

// grafanaFiles are the provisioning files under out: a Prometheus datasource at promURL, a dashboard
// provider reading dashPath (default out/dashboards, absolute) and the dashboard itself.
func grafanaFiles(out, promURL, dashPath string) ([]outFile, error) {
	u, err := url.Parse(promURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--prometheus-url %q: want a URL like http://127.0.0.1:9090", promURL)
	}
	dashDir := filepath.Join(out, "dashboards")
	if dashPath == "" {
		abs, err := filepath.Abs(dashDir)
		if err != nil {
			return nil, fmt.Errorf("--out %q: %w", out, err)
		}
		dashPath = abs
	}
	ds, err := yaml.MarshalWithOptions(grafanaDatasources{APIVersion: 1, Datasources: []grafanaDatasource{{
		Name: "devstack Prometheus", Type: "prometheus", UID: grafanaDatasourceUID, Access: "proxy", URL: promURL, Editable: true,
	}}}, yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	prov, err := yaml.MarshalWithOptions(grafanaProviders{APIVersion: 1, Providers: []grafanaProvider{{
		Name: "devstack", OrgID: 1, Folder: "devstack", Type: "file", AllowUIUpdates: true, UpdateIntervalSeconds: 30,
		Options: grafanaProviderOptions{Path: dashPath},
	}}}, yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	dash, err := json.MarshalIndent(grafanaDashboard(), "", "  ")
	if err != nil {
		return nil, err
	}
	head := []byte("# written by `devstack metrics grafana`\n")
	return []outFile{
		{filepath.Join(out, "provisioning", "datasources", "devstack.yaml"), append(head, ds...)},
		{filepath.Join(out, "provisioning", "dashboards", "devstack.yaml"), append(head, prov...)},
		{filepath.Join(dashDir, "devstack.json"), append(dash, '\n')},
	}, nil
}

// Grafana's provisioning files (datasources/*.yaml and dashboards/*.yaml).
type (
	grafanaDatasources struct {
		APIVersion  int                 `yaml:"apiVersion"`
		Datasources []grafanaDatasource `yaml:"datasources"`
	}
	grafanaDatasource struct {
		Name      string `yaml:"name"`
		Type      string `yaml:"type"`
		UID       string `yaml:"uid"`
		Access    string `yaml:"access"`
		URL       string `yaml:"url"`
		IsDefault bool   `yaml:"isDefault"`
		Editable  bool   `yaml:"editable"`
	}
	grafanaProviders struct {
		APIVersion int               `yaml:"apiVersion"`
		Providers  []grafanaProvider `yaml:"providers"`
	}
	grafanaProvider struct {
		Name                  string                 `yaml:"name"`
		OrgID                 int                    `yaml:"orgId"`
		Folder                string                 `yaml:"folder"`
		Type                  string                 `yaml:"type"`
		DisableDeletion       bool                   `yaml:"disableDeletion"`
		AllowUIUpdates        bool                   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int                    `yaml:"updateIntervalSeconds"`
		Options               grafanaProviderOptions `yaml:"options"`
	}
	grafanaProviderOptions struct {
		Path string `yaml:"path"`
	}
)

// The dashboard JSON model (the fields of Grafana's dashboard schema this dashboard uses).
type (
	dashboard struct {
		UID           string         `json:"uid"`
		Title         string         `json:"title"`
		Description   string         `json:"description"`
		Tags          []string       `json:"tags"`
		Timezone      string         `json:"timezone"`
		Editable      bool           `json:"editable"`
		GraphTooltip  int            `json:"graphTooltip"`
		Refresh       string         `json:"refresh"`
		SchemaVersion int            `json:"schemaVersion"`
		Version       int            `json:"version"`
		Time          dashTime       `json:"time"`
		Templating    dashTemplating `json:"templating"`
		Annotations   dashList       `json:"annotations"`
		Panels        []dashPanel    `json:"panels"`
	}
	dashTime struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	dashTemplating struct {
		List []dashVariable `json:"list"`
	}
	dashList struct {
		List []any `json:"list"`
	}
	dashVariable struct {
		Name       string         `json:"name"`
		Label      string         `json:"label"`
		Type       string         `json:"type"`
		Datasource dashDatasource `json:"datasource"`
		Query      dashVarQuery   `json:"query"`
		Definition string         `json:"definition"`
		Refresh    int            `json:"refresh"`
		IncludeAll bool           `json:"includeAll"`
		Multi      bool           `json:"multi"`
		AllValue   string         `json:"allValue"`
		Sort       int            `json:"sort"`
	}
	dashVarQuery struct {
		Query string `json:"query"`
		RefID string `json:"refId"`
	}
	dashDatasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	dashGridPos struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	}
	dashPanel struct {
		ID          int             `json:"id"`
		Type        string          `json:"type"`
		Title       string          `json:"title"`
		Description string          `json:"description,omitempty"`
		GridPos     dashGridPos     `json:"gridPos"`
		Collapsed   *bool           `json:"collapsed,omitempty"`
		Panels      []dashPanel     `json:"panels,omitempty"` // a row's, when collapsed
		Datasource  *dashDatasource `json:"datasource,omitempty"`
		Targets     []dashTarget    `json:"targets,omitempty"`
		FieldConfig *dashFieldCfg   `json:"fieldConfig,omitempty"`
		Options     map[string]any  `json:"options,omitempty"`
	}
	dashTarget struct {
		RefID        string         `json:"refId"`
		Datasource   dashDatasource `json:"datasource"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
		Range        bool           `json:"range"`
		Instant      bool           `json:"instant"`
	}
	dashFieldCfg struct {
		Defaults  dashFieldDefaults `json:"defaults"`
		Overrides []any             `json:"overrides"`
	}
	dashFieldDefaults struct {
		Unit string `json:"unit,omitempty"`
		Min  *int   `json:"min,omitempty"`
	}
)

// query is one series a panel draws: a PromQL expression ($stack and $__rate_interval are Grafana's) and
// its legend.
type query struct{ expr, legend string }

// panelSpec is one panel of the dashboard: a timeseries, or a stat for a few current numbers.
type panelSpec struct {
	title, description, unit string
	stat                     bool
	queries                  []query
}

// rowSpec is a row of panels, one per component.
type rowSpec struct {
	title  string
	panels []panelSpec
}

// sel is the label selector every expression carries: the stacks picked in the dashboard.
const sel = `stack=~"$stack"`

// dashboardRows are the dashboard's panels: every metric family of docs/metrics.md is drawn by one
// (TestGrafanaDashboardCoversMetrics holds the two together).
var dashboardRows = []rowSpec{
	{"Gateway", []panelSpec{
		{title: "Requests /s by service", unit: "reqps", queries: []query{
			{`sum by (service) (rate(devstack_gateway_requests_total{` + sel + `}[$__rate_interval]))`, "{{service}}"}}},
		{title: "Errors /s by service (4xx, 5xx)", unit: "reqps", queries: []query{
			{`sum by (service, code) (rate(devstack_gateway_requests_total{` + sel + `,code=~"4xx|5xx"}[$__rate_interval]))`, "{{service}} {{code}}"}}},
		{title: "Latency p99 and p50 by service", unit: "s", queries: []query{
			{`histogram_quantile(0.99, sum by (service, le) (rate(devstack_gateway_request_duration_seconds_bucket{` + sel + `}[$__rate_interval])))`, "{{service}} p99"},
			{`histogram_quantile(0.5, sum by (service, le) (rate(devstack_gateway_request_duration_seconds_bucket{` + sel + `}[$__rate_interval])))`, "{{service}} p50"}}},
		{title: "In-flight requests by service", queries: []query{
			{`sum by (service) (devstack_gateway_upstream_in_flight{` + sel + `})`, "{{service}}"}}},
		{title: "Healthy instances by service", queries: []query{
			{`sum by (service) (devstack_gateway_upstream_healthy{` + sel + `})`, "{{service}}"}}},
		{title: "Event-loop handling /s", description: "Plain-HTTP traffic by how the gateway's event loops handled it.", unit: "ops", queries: []query{
			{`sum by (result) (rate(devstack_gateway_fastpath_total{` + sel + `}[$__rate_interval]))`, "{{result}}"}}},
	}},
	{"Broker", []panelSpec{
		{title: "Records in /s by topic", unit: "ops", queries: []query{
			{`sum by (topic) (rate(devstack_broker_topic_records_in_total{` + sel + `}[$__rate_interval]))`, "{{topic}}"}}},
		{title: "Records out /s by topic", description: "Records consumers fetched (a record read by two groups counts twice). Embedded broker only.", unit: "ops", queries: []query{
			{`sum by (topic) (rate(devstack_broker_topic_records_out_total{` + sel + `}[$__rate_interval]))`, "{{topic}}"}}},
		{title: "Bytes in and out /s by topic", description: "Record batches as sent and as stored. Embedded broker only.", unit: "Bps", queries: []query{
			{`sum by (topic) (rate(devstack_broker_topic_bytes_in_total{` + sel + `}[$__rate_interval]))`, "{{topic}} in"},
			{`sum by (topic) (rate(devstack_broker_topic_bytes_out_total{` + sel + `}[$__rate_interval]))`, "{{topic}} out"}}},
		{title: "Consumer group lag", description: "Records the group has not committed yet, summed over partitions.", queries: []query{
			{`sum by (group, topic) (devstack_broker_group_lag{` + sel + `})`, "{{group}} {{topic}}"}}},
		{title: "Records held by topic", queries: []query{
			{`sum by (topic) (devstack_broker_topic_records{` + sel + `})`, "{{topic}}"}}},
		{title: "Bytes held by topic", unit: "bytes", queries: []query{
			{`sum by (topic) (devstack_broker_topic_bytes{` + sel + `})`, "{{topic}}"}}},
		{title: "Partitions by topic", stat: true, queries: []query{
			{`sum by (topic) (devstack_broker_topic_partitions{` + sel + `})`, "{{topic}}"}}},
		{title: "Broker up", stat: true, queries: []query{
			{`min(devstack_broker_up{` + sel + `})`, "up"}}},
	}},
	{"Services", []panelSpec{
		{title: "CPU by instance", unit: "percent", queries: []query{
			{`devstack_service_cpu_percent{` + sel + `}`, "{{service}}/{{replica}}"}}},
		{title: "Memory (RSS) by instance", unit: "bytes", queries: []query{
			{`devstack_service_rss_bytes{` + sel + `}`, "{{service}}/{{replica}}"}}},
		{title: "Restarts by service", description: "The supervisor's restarts of exited instances in this run.", queries: []query{
			{`sum by (service) (devstack_service_restarts_total{` + sel + `})`, "{{service}}"}}},
		{title: "Reloads by service", description: "Hot reloads and rebuilds since devstack started, ok or failed.", queries: []query{
			{`sum by (service, result) (devstack_service_reloads_total{` + sel + `})`, "{{service}} {{result}}"}}},
		{title: "Reload time by service", unit: "s", queries: []query{
			{`sum by (service) (devstack_service_reload_duration_seconds_sum{` + sel + `}) / sum by (service) (devstack_service_reload_duration_seconds_count{` + sel + `})`, "{{service}} mean"},
			{`histogram_quantile(0.99, sum by (service, le) (devstack_service_reload_duration_seconds_bucket{` + sel + `}))`, "{{service}} p99"}}},
		{title: "Build failures by service", queries: []query{
			{`sum by (service) (devstack_service_build_failures_total{` + sel + `})`, "{{service}}"}}},
	}},
	{"Schema registry", []panelSpec{
		{title: "Subjects and schemas", stat: true, queries: []query{
			{`sum(devstack_registry_subjects{` + sel + `})`, "subjects"},
			{`sum(devstack_registry_schemas{` + sel + `})`, "schemas"}}},
		{title: "Registrations refused", queries: []query{
			{`sum(devstack_registry_registrations_refused_total{` + sel + `})`, "refused"}}},
	}},
	{"Telemetry (OTLP)", []panelSpec{
		{title: "Spans received /s", unit: "ops", queries: []query{
			{`sum(rate(devstack_telemetry_spans_received_total{` + sel + `}[$__rate_interval]))`, "received"}}},
		{title: "Spans not kept /s", unit: "ops", queries: []query{
			{`sum(rate(devstack_telemetry_spans_dropped_total{` + sel + `}[$__rate_interval]))`, "dropped"},
			{`sum(rate(devstack_telemetry_spans_evicted_total{` + sel + `}[$__rate_interval]))`, "evicted"},
			{`sum(rate(devstack_telemetry_spans_rejected_total{` + sel + `}[$__rate_interval]))`, "rejected"}}},
		{title: "Traces and spans kept", queries: []query{
			{`sum(devstack_telemetry_traces_stored{` + sel + `})`, "traces"},
			{`sum(devstack_telemetry_spans_stored{` + sel + `})`, "spans"}}},
		{title: "OTLP logs and metrics received /s", unit: "ops", queries: []query{
			{`sum(rate(devstack_telemetry_log_records_received_total{` + sel + `}[$__rate_interval]))`, "log records"},
			{`sum(rate(devstack_telemetry_metrics_received_total{` + sel + `}[$__rate_interval]))`, "metrics"}}},
		{title: "OTLP requests failed /s", unit: "reqps", queries: []query{
			{`sum(rate(devstack_telemetry_requests_failed_total{` + sel + `}[$__rate_interval]))`, "failed"}}},
		{title: "Service metric series kept", description: "The services' own OTLP metrics are on the same endpoint, labelled service and instance.", queries: []query{
			{`sum(devstack_telemetry_metric_series{` + sel + `})`, "series"},
			{`sum(increase(devstack_telemetry_metric_points_dropped_total{` + sel + `}[$__rate_interval]))`, "points dropped"}}},
	}},
	{"PostgreSQL", []panelSpec{
		{title: "Connections by database", queries: []query{
			{`sum by (database) (devstack_postgres_connections{` + sel + `})`, "{{database}}"}}},
		{title: "Database size", unit: "bytes", queries: []query{
			{`sum by (database) (devstack_postgres_database_size_bytes{` + sel + `})`, "{{database}}"}}},
		{title: "PostgreSQL up", stat: true, queries: []query{
			{`min(devstack_postgres_up{` + sel + `})`, "up"}}},
	}},
}

// grafanaDashboard lays dashboardRows out on Grafana's 24-column grid, three panels a line.
func grafanaDashboard() dashboard {
	ds := dashDatasource{Type: "prometheus", UID: grafanaDatasourceUID}
	d := dashboard{
		UID:           "devstack",
		Title:         "devstack",
		Description:   "The stack's metrics from the gateway's " + metricsPath + " (docs/metrics.md), written by `devstack metrics grafana`.",
		Tags:          []string{"devstack"},
		Timezone:      "browser",
		Editable:      true,
		GraphTooltip:  1,
		Refresh:       "10s",
		SchemaVersion: 39,
		Version:       1,
		Time:          dashTime{From: "now-30m", To: "now"},
		Annotations:   dashList{List: []any{}},
		Templating: dashTemplating{List: []dashVariable{{
			Name: "stack", Label: "Stack", Type: "query", Datasource: ds,
			Query:      dashVarQuery{Query: `label_values(up{job="` + metricsJob + `"}, stack)`, RefID: "stack"},
			Definition: `label_values(up{job="` + metricsJob + `"}, stack)`,
			Refresh:    2, IncludeAll: true, Multi: true, AllValue: ".*", Sort: 1,
		}}},
	}
	id, y := 1, 0
	zero := 0
	for _, r := range dashboardRows {
		collapsed := false
		d.Panels = append(d.Panels, dashPanel{ID: id, Type: "row", Title: r.title, Collapsed: &collapsed, GridPos: dashGridPos{H: 1, W: 24, X: 0, Y: y}})
		id++
		y++
		for i, p := range r.panels {
			pn := dashPanel{
				ID: id, Type: "timeseries", Title: p.title, Description: p.description, Datasource: &ds,
				GridPos:     dashGridPos{H: 8, W: 8, X: (i % 3) * 8, Y: y + (i/3)*8},
				FieldConfig: &dashFieldCfg{Defaults: dashFieldDefaults{Unit: p.unit}, Overrides: []any{}},
				Options:     map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true}, "tooltip": map[string]any{"mode": "multi", "sort": "desc"}},
			}
			if p.stat {
				pn.Type = "stat"
				pn.FieldConfig.Defaults.Min = &zero
				pn.Options = map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false}, "colorMode": "value", "graphMode": "area", "textMode": "auto"}
			}
			for j, q := range p.queries {
				pn.Targets = append(pn.Targets, dashTarget{RefID: string(rune('A' + j)), Datasource: ds, Expr: q.expr, LegendFormat: q.legend, Range: true})
			}
			d.Panels = append(d.Panels, pn)
			id++
		}
		y += ((len(r.panels) + 2) / 3) * 8
	}
	return d
}
