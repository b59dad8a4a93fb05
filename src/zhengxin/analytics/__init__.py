"""Supervision analytics: Ibis views over the Parquet lake, run on DuckDB (embedded, the
default) or PySpark (the `spark` extra) unchanged, their runs stored and served to the regulator.

Nothing here imports Ibis at import time, so the app and the CLI start without it.
"""

# The views, by the name of the route that serves each (GET /v1/supervision/<name>).
VIEWS = ("obligations", "co-lending", "multi-lending", "inquiries", "disputes", "outstanding")
