"""Every feature's tables on the one metadata (what Alembic compares against)."""

from zhengxin.audit import tables as _audit  # noqa: F401
from zhengxin.furnishing import tables as _furnishing  # noqa: F401
from zhengxin.identity import tables as _identity  # noqa: F401
from zhengxin.kit.db import metadata
from zhengxin.parties import tables as _parties  # noqa: F401
from zhengxin.records import tables as _records  # noqa: F401

__all__ = ["metadata"]
