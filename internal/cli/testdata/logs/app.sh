#!/bin/sh
# A service that logs the way real ones do: pino JSON, Go slog's text handler (logfmt), a plain line and
# Python's json logger with OpenTelemetry's fields; then one more line once the file "late" exists.
echo '{"level":40,"time":1764766800000,"pid":4242,"msg":"slow order","orderId":7,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}'
echo 'time=2026-12-03T13:00:00.123Z level=ERROR msg="payment failed" order=7 span_id=00f067aa0ba902b7' >&2
echo 'listening on 3000'
echo '{"asctime": "2026-12-03 13:00:00,123", "levelname": "INFO", "name": "shop.orders", "message": "order created", "otelTraceID": "4bf92f3577b34da6a3ce929d0e0e4736", "otelSpanID": "00f067aa0ba902b7", "http": {"status": 201}}'
while [ ! -f late ]; do sleep 0.1; done
echo 'level=debug msg=late'
exec sleep 1000
