from sqlalchemy import BigInteger, Column, Date, Float, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from zhengxin.kit.db import UTCDateTime, key, metadata

# The price list: a price holds from its effective day until a later one for the same
# product and tier; old prices stay, so every charge can be traced to the price it used.
prices = Table(
    "billing_prices",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("product", String(16), nullable=False),
    Column("tier", String(24), nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("set_by", String(40), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    UniqueConstraint("product", "tier", "effective_from"),
)

lender_tiers = Table(
    "billing_lender_tiers",
    metadata,
    Column("lender_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("tier", String(24), nullable=False),
    Column("set_by", String(40), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
)

# One charge per allowed inquiry; never changed afterwards. `period` (YYYY-MM, UTC) is the
# month whose invoice carries it.
charges = Table(
    "billing_charges",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("inquiry_id", key(40), nullable=False, unique=True),
    Column("payer_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("product", String(16), nullable=False),
    Column("tier", String(24), nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("share_rate", Float, nullable=False),
    Column("shared_fen", BigInteger, nullable=False),  # the furnishers' part of this fee
    Column("period", key(7), nullable=False),
    Column("charged_at", UTCDateTime, nullable=False),
)
Index("ix_billing_charges_payer", charges.c.payer_id, charges.c.period)
Index("ix_billing_charges_period", charges.c.period)

# Each furnisher's part of a charge, by the records of theirs the report used.
shares = Table(
    "billing_shares",
    metadata,
    Column("charge_id", key(40), primary_key=True),
    Column("furnisher_id", key(40), primary_key=True),
    Column("records", Integer, nullable=False),
    Column("share_fen", BigInteger, nullable=False),
    Column("period", key(7), nullable=False),
)
Index("ix_billing_shares_furnisher", shares.c.furnisher_id, shares.c.period)
