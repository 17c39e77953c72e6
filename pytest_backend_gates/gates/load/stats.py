"""The load gate's statistics: locust's serialised StatsEntry as `EndpointStats` (counts and
locust's response-time histogram), the metrics a budget names, and which endpoints ('GET
/items/7') an operation of the thresholds ('GET /items/{id}') covers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pytest_backend_gates.budget import Budget


@dataclass
class EndpointStats:
    """Counts and response times (milliseconds, locust's rounded histogram) of one endpoint or of all."""

    requests: int = 0
    failures: int = 0
    total_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float = 0.0
    histogram: dict[float, int] = field(default_factory=dict)  # rounded response time (ms) -> count

    @classmethod
    def from_locust(cls, entry: Mapping[str, Any]) -> EndpointStats:
        return cls(requests=int(entry["num_requests"]), failures=int(entry["num_failures"]),
                   total_ms=float(entry["total_response_time"]), min_ms=entry.get("min_response_time"),
                   max_ms=float(entry.get("max_response_time") or 0),
                   histogram=parse_histogram(entry.get("response_times") or {}))

    def merge(self, other: EndpointStats) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.total_ms += other.total_ms
        if other.min_ms is not None:
            self.min_ms = other.min_ms if self.min_ms is None else min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)
        for bucket, count in other.histogram.items():
            self.histogram[bucket] = self.histogram.get(bucket, 0) + count

    def percentile_ms(self, percent: float) -> float:
        """Locust's own rule (stats.calculate_response_time_percentile), on its histogram."""
        answered = sum(self.histogram.values())
        if not answered:
            return 0.0
        wanted = int(answered * percent / 100)
        seen = 0
        for bucket in sorted(self.histogram, reverse=True):
            seen += self.histogram[bucket]
            if answered - seen <= wanted:
                return float(bucket)
        return 0.0

    def metric(self, budget: Budget, seconds: float) -> float:
        """The budget's metric in its base unit: seconds, percent or requests per second."""
        if budget.metric == "rps":
            return self.requests / seconds if seconds > 0 else 0.0
        if budget.metric == "failures":
            return self.failures / self.requests * 100 if self.requests else 0.0
        if budget.metric == "mean":
            return self.total_ms / self.requests / 1000 if self.requests else 0.0
        if budget.metric == "min":
            return (self.min_ms or 0.0) / 1000
        if budget.metric == "max":
            return self.max_ms / 1000
        assert budget.percentile is not None
        return self.percentile_ms(budget.percentile) / 1000

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "failure_pct": round(self.failures / self.requests * 100, 3) if self.requests else 0.0,
            "rps": round(self.requests / seconds, 2) if seconds > 0 else 0.0,
            "p50_ms": self.percentile_ms(50), "p95_ms": self.percentile_ms(95), "p99_ms": self.percentile_ms(99),
            "mean_ms": round(self.total_ms / self.requests, 2) if self.requests else 0.0,
            "max_ms": self.max_ms,
        }


def parse_histogram(raw: Mapping[Any, Any]) -> dict[float, int]:
    """Locust's response-time histogram with its keys as numbers: JSON made them strings, and a
    bucketing that rounds floats (older locust, or a custom `bucket_response_time`) gives '120.0'."""
    histogram: dict[float, int] = {}
    for key, count in raw.items():
        bucket = float(key)
        histogram[bucket] = histogram.get(bucket, 0) + int(count)
    return histogram


def template_pattern(path: str) -> re.Pattern[str]:
    """'/items/{item_id}' -> a regex matching '/items/7' (and the template itself)."""
    parts = re.split(r"(\{[^}/]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts))


def endpoint_path(name: str) -> str:
    """A locust request name without scheme, host and query: what an operation's path template matches."""
    return urlsplit(name).path if "://" in name else name.split("?", 1)[0]


def match_endpoint(operation: str, endpoints: Mapping[str, EndpointStats]) -> EndpointStats | None:
    """The stats of every endpoint ('METHOD name') an operation ('GET /items/{id}') covers, merged."""
    method, _, path = operation.partition(" ")
    pattern = template_pattern(path)
    merged: EndpointStats | None = None
    for label, stats in endpoints.items():
        their_method, _, name = label.partition(" ")
        if their_method.upper() == method.upper() and (name == path or pattern.fullmatch(endpoint_path(name))):
            merged = merged or EndpointStats()
            merged.merge(stats)
    return merged
