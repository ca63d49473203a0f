"""The server's Prometheus series, in a registry of its own (no global state: two apps in one
process, as in tests, do not mix their counts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServerMetrics:
    """The server's Prometheus series, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "seq2seq_es_requests",
            "HTTP requests by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "seq2seq_es_generate_latency_seconds",
            "Time to answer POST /v1/generate.",
            ["model"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.batch_size = Histogram(
            "seq2seq_es_batch_size",
            "Texts per generate call.",
            ["model"],
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.batch_seconds = Histogram(
            "seq2seq_es_batch_seconds",
            "Time of one generate call.",
            ["model"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "seq2seq_es_generated_tokens", "Tokens generated.", ["model"], registry=self.registry
        )
        self.queued = Gauge(
            "seq2seq_es_queued_texts",
            "Texts waiting for the model.",
            ["model"],
            registry=self.registry,
        )
        self.cancelled = Counter(
            "seq2seq_es_cancelled_requests",
            "Requests given up before their answer, by reason (timeout, disconnect, shutdown).",
            ["model", "reason"],
            registry=self.registry,
        )
