"""One supervision run end to end: refresh the lake from the store, run the views on the
configured engine, keep the results for the regulator's routes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from zhengxin.analytics import run as analytics
from zhengxin.analytics import service
from zhengxin.kit import clock
from zhengxin.runtime import Runtime


def run_supervision(
    runtime: Runtime,
    lake_dir: Path,
    *,
    backend: str | None = None,
    as_of: date | None = None,
    export: bool = True,
    con=None,
) -> dict:
    """Bring the lake up to date (unless `export` is false: analyse it as it is), run every view,
    store the run."""
    backend = backend or runtime.settings.analytics_backend
    as_of = as_of or clock.today()
    if con is None:
        con = analytics.connect(backend)  # first: an unknown or missing engine fails before any work
    if export:
        from zhengxin.lake.export import export as export_lake

        export_lake(runtime, Path(lake_dir))
    started = clock.now()
    results = analytics.run(lake_dir, backend=backend, as_of=as_of, rules=runtime.settings.rules, con=con)
    finished = clock.now()
    with runtime.transaction() as conn:
        row = service.record_run(
            conn, as_of=as_of, backend=backend, started_at=started, finished_at=finished,
            lake_dir=str(Path(lake_dir).resolve()), results=results,
        )  # fmt: skip
    return {**row, "exported": export}
