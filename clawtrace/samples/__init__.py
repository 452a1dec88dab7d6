"""Shipped sample data: the OTLP incident behind ``clawtrace import otlp --sample`` and ``clawtrace demo``."""
