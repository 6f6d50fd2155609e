package telemetry

import (
	"testing"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
)

// TestSeverity: an OTLP record's severity number wins; without one its severity text is read as a
// JSON log line's level is (event.NormalizeLevel), with OpenTelemetry's numbered variants (INFO2, …).
func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		n    logspb.SeverityNumber
		text string
		want string
	}{
		{logspb.SeverityNumber_SEVERITY_NUMBER_FATAL, "", "error"},
		{logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, "INFO", "error"}, // the number wins
		{logspb.SeverityNumber_SEVERITY_NUMBER_WARN4, "", "warn"},
		{logspb.SeverityNumber_SEVERITY_NUMBER_INFO, "", "info"},
		{logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG2, "", "debug"},
		{logspb.SeverityNumber_SEVERITY_NUMBER_TRACE, "", "trace"},
		{0, "ERROR", "error"},
		{0, "Fatal", "error"},
		{0, "critical", "error"},
		{0, "WARNING", "warn"},
		{0, "INFO2", "info"},
		{0, "notice", "info"}, // as in a JSON line's "level"
		{0, "debug", "debug"},
		{0, "TRACE3", "trace"},
		{0, "", ""},
		{0, "chatty", ""},
	} {
		if got := severity(tc.n, tc.text); got != tc.want {
			t.Errorf("severity(%v, %q) = %q, want %q", tc.n, tc.text, got, tc.want)
		}
	}
}
