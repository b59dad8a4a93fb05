"""Every feature's tables on the one metadata (what Alembic compares against)."""

from zhengxin.alerts import tables as _alerts  # noqa: F401
from zhengxin.analytics import tables as _analytics  # noqa: F401
from zhengxin.audit import tables as _audit  # noqa: F401
from zhengxin.billing import tables as _billing  # noqa: F401
from zhengxin.complaints import tables as _complaints  # noqa: F401
from zhengxin.consent import tables as _consent  # noqa: F401
from zhengxin.decisions import tables as _decisions  # noqa: F401
from zhengxin.disputes import tables as _disputes  # noqa: F401
from zhengxin.federation import tables as _federation  # noqa: F401
from zhengxin.furnishing import tables as _furnishing  # noqa: F401
from zhengxin.identity import tables as _identity  # noqa: F401
from zhengxin.inquiries import tables as _inquiries  # noqa: F401
from zhengxin.kit.db import metadata
from zhengxin.notifications import tables as _notifications  # noqa: F401
from zhengxin.parties import tables as _parties  # noqa: F401
from zhengxin.records import tables as _records  # noqa: F401
from zhengxin.reports.scoring import tables as _scoring  # noqa: F401
from zhengxin.rights import tables as _rights  # noqa: F401
from zhengxin.supervision import tables as _supervision  # noqa: F401
from zhengxin.transfers import tables as _transfers  # noqa: F401

__all__ = ["metadata"]
