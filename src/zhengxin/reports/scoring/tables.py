"""Scorecard models as registered (immutable, content-addressed; at most one active) and every
score produced, with the model version and the inputs behind it (CM-3, PIPL-24)."""

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text

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

# Each month of a population a model was monitored on (`zhengxin model monitor`): the score's
# PSI and every feature's CSI against the training sample. Aggregates only, no person.
scoring_monitoring = Table(
    "scoring_monitoring",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("model_version", key(40), nullable=False),
    Column("month", String(16), nullable=False),  # YYYY-MM, or "all"
    Column("rows", Integer, nullable=False),
    Column("psi", Float, nullable=False),
    Column("flag", String(8), nullable=False),  # stable | watch | act
    Column("csi", JSON, nullable=False),  # feature -> {csi, flag}
    Column("mean_score", Float, nullable=False),
    Column("data_sha256", String(64), nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)
Index("ix_scoring_monitoring_model", scoring_monitoring.c.model_version, scoring_monitoring.c.month)
