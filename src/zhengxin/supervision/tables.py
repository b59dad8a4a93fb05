"""The regulator's own records: app collection reviews, orders to furnishers, and the register of
who holds stakes in the agency.

An order's free text (its reason, the furnisher's response, the regulator's note) may name
people, so it is kept only sealed with a vault key, like dispute texts.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    false,
)

from zhengxin.kit.db import UTCDateTime, key, metadata
from zhengxin.kit.sealing import sealed

# One review of an app's collection against its type's necessary PI (APP-NPI).
app_reviews = Table(
    "supervision_app_reviews",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("app", String(200), nullable=False),
    Column("category", String(48), nullable=False),
    Column("necessary", JSON, nullable=False),  # the type's necessary items when reviewed
    Column("collected", JSON, nullable=False),  # what the app collects, as last recorded
    Column("excessive", JSON, nullable=False),  # collected - necessary
    Column("status", String(24), nullable=False),  # compliant | rectification_required | rectified
    Column("rectify_by", Date),  # set when anything was excessive: review day + rectification_days
    Column("rectified_at", UTCDateTime),
    Column("rectified_late", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_by", String(40), ForeignKey("parties.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_supervision_app_reviews_status", app_reviews.c.status, app_reviews.c.rectify_by)

# Every collection list the regulator recorded for a review after the first.
app_review_rectifications = Table(
    "supervision_app_rectifications",
    metadata,
    Column("review_id", key(40), ForeignKey("supervision_app_reviews.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("collected", JSON, nullable=False),
    Column("excessive", JSON, nullable=False),
    Column("late", Boolean, nullable=False),
    Column("recorded_by", String(40), ForeignKey("parties.id"), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# An order to a furnisher (rectification, suspension, information request) and its clock.
orders = Table(
    "supervision_orders",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("furnisher_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("kind", String(24), nullable=False),  # rectification | suspension | information_request
    Column("rule", String(16)),  # the rule the order enforces, if the regulator names one
    Column("due_on", Date, nullable=False),
    Column("status", String(16), nullable=False),  # open -> responded -> closed (or back to open)
    Column("responded_at", UTCDateTime),  # the latest response
    Column("responded_late", Boolean),  # whether the latest response came after due_on
    Column("accepted", Boolean),  # the regulator's verdict on the latest response
    Column("closed_at", UTCDateTime),
    Column("created_by", String(40), ForeignKey("parties.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_supervision_orders_furnisher", orders.c.furnisher_id, orders.c.status)
Index("ix_supervision_orders_due", orders.c.status, orders.c.due_on)

# Every step of an order, in order, with any text sealed.
order_steps = Table(
    "supervision_order_steps",
    metadata,
    Column("order_id", key(40), ForeignKey("supervision_orders.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("step", String(16), nullable=False),  # issued, responded, accepted, reopened
    Column("actor_id", String(40), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("details", JSON, nullable=False),  # no PII: due_on, late, accepted
    Column("key_id", String(16)),
    Column("text_sealed", LargeBinary),
    Column("at", UTCDateTime, nullable=False),
)

# Who holds stakes in the agency (neutrality). Holders are organisations or persons named in
# the agency's public shareholder register; a stake sold is kept with `removed_at`.
shareholders = Table(
    "agency_shareholders",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("party_id", String(40), ForeignKey("parties.id")),  # the lender or furnisher it is, if any
    Column("stake_bp", Integer, nullable=False),  # basis points: 10000 = 100%
    Column("recorded_by", String(40), ForeignKey("parties.id"), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
)
Index("ix_agency_shareholders_party", shareholders.c.party_id)

# Texts sealed by the vault, and the context each is bound to (kit.sealing).
ORDER_TEXTS = sealed(order_steps, "key_id", text_sealed="order:{order_id}:{seq}")
