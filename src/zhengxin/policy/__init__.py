"""The policy decision point: every allow/deny on personal data, with the rules that decided it.

Pure: Cedar policy files and cedarpy, no FastAPI or SQLAlchemy, so an auditor can load the
same files and replay a recorded decision.
"""

from zhengxin.policy.engine import (
    ACTIONS,
    DEFAULT_DENY,
    POLICY_DIR,
    Decision,
    PolicyEngine,
    PolicyError,
    Reason,
    Subject,
    entity_ref,
    epoch_day,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_DENY",
    "POLICY_DIR",
    "Decision",
    "PolicyEngine",
    "PolicyError",
    "Reason",
    "Subject",
    "entity_ref",
    "epoch_day",
]
