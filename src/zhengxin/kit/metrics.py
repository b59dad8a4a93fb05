"""Prometheus metrics (one process-wide registry)."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("zhengxin_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("zhengxin_http_request_seconds", "HTTP request latency", ["method", "route"])
RECORDS = Counter("zhengxin_furnished_records_total", "Furnished records by outcome", ["outcome"])
INQUIRIES = Counter("zhengxin_inquiries_total", "Inquiries by product and outcome", ["product", "outcome"])
