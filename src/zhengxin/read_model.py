"""The read model: the one declared list of tables the read side may query.

Supervision, oversight and the lake export report on what every feature wrote, so they read
tables they do not own. They read them from here and only from here, never from the owners'
`tables` modules (the import contracts in pyproject.toml hold them to it), and they never
write them (tests/test_architecture.py). Each table still has one owner, the feature that
writes it; a column renamed there shows up here as the read side's dependency on it.
"""

from zhengxin.audit.tables import log_heads, log_leaves, log_state
from zhengxin.complaints.tables import complaints
from zhengxin.decisions.tables import policy_decisions
from zhengxin.disputes.tables import disputes
from zhengxin.furnishing.tables import batches, obligations, quarantine
from zhengxin.identity.tables import identity_versions, pii_vault
from zhengxin.inquiries.tables import inquiries
from zhengxin.parties.tables import ROLES, parties
from zhengxin.records.tables import (
    account_snapshots,
    consumption_summaries,
    generic_records,
    retention_runs,
    travel_summaries,
)
from zhengxin.rights.tables import self_queries

__all__ = [
    "ROLES",
    "account_snapshots",
    "batches",
    "complaints",
    "consumption_summaries",
    "disputes",
    "generic_records",
    "inquiries",
    "log_heads",
    "log_leaves",
    "log_state",
    "obligations",
    "parties",
    "identity_versions",
    "pii_vault",
    "policy_decisions",
    "quarantine",
    "retention_runs",
    "self_queries",
    "travel_summaries",
]
