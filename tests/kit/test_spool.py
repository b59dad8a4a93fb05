"""Issue 15, finding 8: spooled uploads are private, removed on every path, and what a crashed
process left is removed at the next start, never what a live one is using."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.records import loan, to_csv
from zhengxin.kit import spool


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_spooled_files_are_private_and_removed_on_every_path(tmp_path):
    root = tmp_path / "spool"
    with spool.private_directory("zx-batch-", root) as directory:
        with spool.create(directory / "batch.csv") as f:
            f.write(b"person_id,name\n")
        assert _mode(root) == 0o700 and _mode(directory) == 0o700
        assert _mode(directory / "batch.csv") == 0o600
    assert not directory.exists()
    with pytest.raises(RuntimeError), spool.private_directory("zx-batch-", root) as failing:
        (failing / "half").write_bytes(b"x")
        raise RuntimeError("the request failed half way")
    assert not failing.exists()


def test_a_spool_root_made_by_someone_else_is_refused_or_made_private(tmp_path):
    root = tmp_path / "spool"
    root.mkdir(mode=0o777)
    root.chmod(0o777)
    with spool.private_directory("zx-", root):
        assert _mode(root) == 0o700  # ours, so made private
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(PermissionError), spool.private_directory("zx-", link):
        pass


def test_the_sweep_removes_a_killed_processs_spool_and_keeps_a_live_ones(tmp_path):
    root = tmp_path / "spool"
    program = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from zhengxin.kit import spool
        with spool.private_directory("zx-batch-", Path({str(root)!r})) as d:
            (d / "batch.csv").write_text("a resident ID would be here")
            print(d, flush=True)
            time.sleep(60)
    """)
    live = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    doomed = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        live_dir = Path(live.stdout.readline().strip())
        doomed_dir = Path(doomed.stdout.readline().strip())
        doomed.kill()
        doomed.wait()
        assert doomed_dir.exists()  # a SIGKILL runs no cleanup
        assert spool.sweep(root) == 1
        assert not doomed_dir.parent.exists()
        assert live_dir.exists()  # the live process's work is left alone
    finally:
        live.kill()
        live.wait()


def test_an_upload_leaves_no_spooled_file_and_the_database_is_private(client, runtime, parties, tmp_path):
    root = tmp_path / "spool"
    runtime.settings.spool_dir = root
    _, h = parties.add("furnisher")
    r = client.post("/v1/furnishing/batches", content=to_csv([loan(1)]), headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    r = client.post("/v1/furnishing/batches", content=b"PAR1 broken PAR1",
                    headers={**h, "Content-Type": "application/vnd.apache.parquet"})  # fmt: skip
    assert r.status_code == 422
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name != ".owner"]
    assert leftovers == []
    if runtime.engine.dialect.name == "sqlite":
        database = Path(runtime.engine.url.database)
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            if path.exists():
                assert _mode(path) == 0o600, path
    assert os.stat(root).st_uid == os.getuid()
