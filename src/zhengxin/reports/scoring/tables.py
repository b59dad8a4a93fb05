"""Scorecard models as registered (immutable, content-addressed; at most one active) and every
score produced, with the model version and the inputs behind it (CM-3, PIPL-24)."""

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

scoring_models = Table(
    "scoring_models",
    metadata,
    Column("version", key(40), primary_key=True),
    Column("model", Text, nullable=False),  # the points table, as JSON; its sha256 is model_sha256
    Column("model_sha256", String(64), nullable=False),
    Column("card", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("activated_at", UTCDateTime),
    Column("retired_at", UTCDateTime),
)
# At most one model is live: the database refuses a second active row.
Index("uq_scoring_models_active", scoring_models.c.active, unique=True,
      sqlite_where=scoring_models.c.active, postgresql_where=scoring_models.c.active)  # fmt: skip

scores = Table(
    "scores",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("inquiry_id", key(40)),  # a lender's score inquiry …
    Column("self_query_id", key(40)),  # … or the person's own self-query
    Column("model_version", key(40), nullable=False),
    Column("score", Integer),  # none: too little data to score
    Column("reasons", JSON, nullable=False),
    Column("features", JSON, nullable=False),  # the inputs, so a score can be explained later
    Column("created_at", UTCDateTime, nullable=False),
)
person_index("ix_scores_person", scores.c.person_token)
Index("ix_scores_model", scores.c.model_version, scores.c.created_at)
