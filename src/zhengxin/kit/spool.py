"""Private spool space for uploads on their way in and intake's prepared chunks.

Spooled files hold what furnishers sent (names, resident IDs, phones), so they are readable
by this process's user only (directories 0700, files 0600), removed on every path, and what a
crashed process left behind is removed by the next one to start. Each process works in its
own directory under the spool root and holds an exclusive lock on it while it lives: a
directory whose lock can be taken belongs to a dead process (the kernel drops the locks of a
killed one), so the sweep never touches a live process's files, on any number of workers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

_LOCK = ".owner"
_mine: dict[Path, tuple[int, Path]] = {}  # spool root -> (pid, this process's directory)
_guard = threading.Lock()


def default_root() -> Path:
    return Path(tempfile.gettempdir()) / f"zhengxin-spool-{os.getuid()}"


def _private_directory(path: Path) -> None:
    """Create `path` 0700, or accept it only if it is ours, a real directory and private: in a
    shared /tmp another user could have made it first, or put a symlink there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory of this user's: refusing to spool there")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)


def sweep(root: Path | None = None) -> int:
    """Remove the spool directories of processes that are gone; returns how many."""
    root = root or default_root()
    _private_directory(root)
    removed = 0
    for directory in root.iterdir():
        if not directory.is_dir() or directory == _mine.get(root, (None, None))[1]:
            continue
        try:
            fd = os.open(directory / _LOCK, os.O_RDONLY)
        except FileNotFoundError:  # being created, or never finished: leave it to its owner
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live process holds it
        finally:
            os.close(fd)
        shutil.rmtree(directory, ignore_errors=True)
        removed += 1
    return removed


def _process_directory(root: Path) -> Path:
    with _guard:
        pid, directory = _mine.get(root, (None, None))
        if pid == os.getpid():
            return directory
        _private_directory(root)
        directory = Path(tempfile.mkdtemp(prefix=f"p{os.getpid()}-", dir=root))
        fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held (fd left open) for the life of the process
        _mine[root] = (os.getpid(), directory)
        return directory


@contextmanager
def private_directory(prefix: str, root: Path | None = None) -> Iterator[Path]:
    """A fresh 0700 directory in this process's spool, removed with everything in it on the
    way out, whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=_process_directory(root or default_root())))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def create(path: Path) -> BinaryIO:
    """Open a new file for writing, readable by this user only."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
