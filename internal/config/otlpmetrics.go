package config

import "time"

// The bounds of the OTLP metrics the stack keeps from its services (devstack.yaml does not set them):
// how many services, how many series each (a new one past a bound is dropped and counted), and how long
// a series no export updates stays (an instance that stopped exporting, a label value gone).
const (
	OTLPMetricServices         = 100
	OTLPMetricSeriesPerService = 2000
	OTLPMetricStaleAfter       = 5 * time.Minute
)
