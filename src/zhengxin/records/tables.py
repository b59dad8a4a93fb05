"""Furnished records, keyed by furnisher and person token; no clear identifier anywhere.

Every table carries `person_token` so it can be distributed by that key when one
PostgreSQL primary is not enough.
"""

from sqlalchemy import JSON, BigInteger, Column, Date, Float, Integer, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index


def _provenance() -> list[Column]:
    return [
        Column("as_of", Date, nullable=False),
        Column("consent_ref", String(64), nullable=False),
        Column("batch_id", key(40), nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


# One row per account per month: the account as its furnisher reported it for that month.
# The account's current state is its latest month (see repository.latest_accounts); keeping
# only snapshots means one write per furnished record, the cost that bounds intake.
account_snapshots = Table(
    "account_snapshots",
    metadata,
    Column("furnisher_id", key(40), primary_key=True),
    Column("account_id", key(64), primary_key=True),
    Column("month", key(7), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("product", String(24), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("principal_fen", BigInteger),
    Column("credit_limit_fen", BigInteger),
    Column("balance_fen", BigInteger, nullable=False),
    Column("overdue_fen", BigInteger, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_on", Date),
    Column("platform_share", Float),
    Column("co_lender_uscc", String(18)),
    Column("payment_history", String(24), nullable=False),
    Column("negative_notice_ref", String(64)),
    Column("scheduled_payment_fen", BigInteger),
    Column("term_months", Integer),
    Column("minimum_due_fen", BigInteger),
    Column("statement_date", Date),
    *_provenance(),
)

consumption_summaries = Table(
    "consumption_summaries",
    metadata,
    Column("furnisher_id", key(40), primary_key=True),
    Column("person_token", key(64), primary_key=True),
    Column("month", key(7), primary_key=True),
    Column("category", key(32), primary_key=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("orders", Integer, nullable=False),
    *_provenance(),
)

travel_summaries = Table(
    "travel_summaries",
    metadata,
    Column("furnisher_id", key(40), primary_key=True),
    Column("person_token", key(64), primary_key=True),
    Column("month", key(7), primary_key=True),
    Column("trips", Integer, nullable=False),
    Column("cities", Integer, nullable=False),
    Column("separate_consent_ref", String(64), nullable=False),
    *_provenance(),
)

# Record types on-boarded through the catalog alone (a telecom or utility sector, say).
generic_records = Table(
    "generic_records",
    metadata,
    Column("furnisher_id", key(40), primary_key=True),
    Column("record_type", key(32), primary_key=True),
    Column("person_token", key(64), primary_key=True),
    Column("record_key", key(200), primary_key=True),
    Column("payload", JSON, nullable=False),
    *_provenance(),
)

# A furnisher's correction of whom an account belongs to (PIPL-46): the account moved from one
# person's file to another's, and both files show it. The reference is the furnisher's own.
account_reassignments = Table(
    "account_reassignments",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("furnisher_id", key(40), nullable=False),
    Column("account_id", key(64), nullable=False),
    Column("from_token", key(64), nullable=False),
    Column("to_token", key(64), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("reassigned_at", UTCDateTime, nullable=False),
)

person_index("ix_account_snapshots_person", account_snapshots.c.person_token)
person_index("ix_reassignments_from", account_reassignments.c.from_token)
person_index("ix_reassignments_to", account_reassignments.c.to_token)
person_index("ix_consumption_person", consumption_summaries.c.person_token)
person_index("ix_travel_person", travel_summaries.c.person_token)
person_index("ix_generic_person", generic_records.c.person_token)

# Each `zhengxin retention run`: the day it judged by and what it erased (counts only).
retention_runs = Table(
    "retention_runs",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("erased", JSON, nullable=False),  # {"loan_negative_months": n, "consumption": n, ...}
)
