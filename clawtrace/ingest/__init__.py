"""Sources: OTLP decoding and mapping, and (later) OpenClaw importers."""
