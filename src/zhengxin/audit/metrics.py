"""Log metrics read at scrape time: tree size, signed size, and each witness's lag."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from zhengxin.audit.service import witness_status


class LogCollector:
    def __init__(self, runtime):
        self.runtime = runtime

    def collect(self):
        with self.runtime.engine.connect() as conn:
            status = witness_status(conn)
        yield GaugeMetricFamily("zhengxin_log_tree_size", "Leaves in the transparency log", value=status["tree_size"])
        yield GaugeMetricFamily(
            "zhengxin_log_signed_tree_size", "Leaves covered by the latest signed tree head",
            value=status["signed_tree_size"],
        )  # fmt: skip
        lag = GaugeMetricFamily(
            "zhengxin_log_cosign_lag_leaves", "Leaves appended since the witness last cosigned", labels=["witness"]
        )
        for w in status["witnesses"]:
            lag.add_metric([w["name"]], w["lag_leaves"])
        yield lag
