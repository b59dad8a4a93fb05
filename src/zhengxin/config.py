"""Settings for one deployment (one licensed agency), read from ZHENGXIN_* variables.

The legal parameters of ../shared/RULES.md are settings with the rule's value as default:
rules change and deployments differ. Each is named after what it means, and its rule id is
given beside it so code and errors can cite it.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRETS_FILE = "secrets.env"
DATABASE_FILE = "zhengxin.db"


class RuleParameters(BaseModel):
    """RULES.md parameters (override with ZHENGXIN_RULES__<NAME>)."""

    negative_retention_years: int = 5  # CR-16
    free_self_queries_per_year: int = 2  # CR-17
    objection_days: int = 20  # CR-25
    report_fee_fen: int = 500  # FEE-1
    self_query_fee_fen: int = 1000  # FEE-1
    child_age: int = 14  # PIPL-28
    rights_response_days: int = 15  # PIPL-45
    pipo_threshold: int = 1_000_000  # PIPL-52
    pia_retention_years: int = 3  # PIPL-55/56
    assess_persons: int = 1_000_000  # XB-ASSESS
    assess_sensitive: int = 10_000  # XB-ASSESS
    sc_persons: int = 100_000  # XB-SC
    assessment_valid_years: int = 3  # XB-VALID
    min_platform_share: float = 0.30  # BANK-JL
    individual_cap_fen: int = 30_000_000  # ML-2020
    internet_consumer_cap_fen: int = 20_000_000  # BANK-IL
    multi_platform_threshold: int = 3  # MULTI
    rectification_days: int = 15  # app review (CAC 2021)
    inquiry_record_years: int = 2  # RPT-1: a report lists the inquiries of the last two years


class FairUse(BaseModel):
    """How often one authorization may be used: `inquiries` per product within each window of
    `per_days` days (0: over the authorization's whole life)."""

    inquiries: int = Field(ge=1)
    per_days: int = Field(default=0, ge=0)


class ConsentSettings(BaseModel):
    """Authorizations (CR-18): validity and fair-use limits per purpose (override with
    ZHENGXIN_CONSENT__<NAME>, JSON for the mapping)."""

    default_days: int = 90
    max_days: int = 365
    fair_use: dict[str, FairUse] = Field(
        default_factory=lambda: {
            "loan_application": FairUse(inquiries=1),
            "credit_card_application": FairUse(inquiries=1),
            "guarantee_review": FairUse(inquiries=1),
            "account_opening": FairUse(inquiries=1),
            "post_loan_management": FairUse(inquiries=1, per_days=30),  # periodic monitoring
        }
    )


class BillingSettings(BaseModel):
    """The price list's defaults (FEE-1) and the furnishers' share of fees."""

    # fen per product and lender tier, used until the agency sets a price itself
    default_prices: dict[str, dict[str, int]] = Field(
        default_factory=lambda: {
            "report": {"standard": 500, "small": 350},  # FEE-1: RMB 5 base, discounts for smaller lenders
            "score": {"standard": 300, "small": 200},
        }
    )
    # part of each fee shared among the furnishers whose records the report used
    furnisher_share: float = Field(default=0.30, ge=0, le=1)


class DisputeSettings(BaseModel):
    """Objections (CR-25; the answer period itself is `rules.objection_days`)."""

    # A corrected record is notified to every lender that received it within this many months.
    notify_lenders_months: int = Field(default=6, ge=0)
    # How often the background worker escalates disputes past their due day.
    escalation_interval_seconds: float = 60.0


class RateLimitSettings(BaseModel):
    """Token buckets per API key and per client address (429 with Retry-After when empty)."""

    enabled: bool = True
    per_key_per_second: float = Field(default=100.0, gt=0)
    per_key_burst: int = Field(default=500, ge=1)
    per_address_per_second: float = Field(default=200.0, gt=0)
    per_address_burst: int = Field(default=1000, ge=1)
    redis_url: str | None = None  # shared by every API node; in each process otherwise


class FederationSettings(BaseModel):
    """This node in the federation of agencies (federation/)."""

    uscc: str | None = None  # this agency's USCC: the key id of the requests it signs
    signing_key: SecretStr | None = None  # its Ed25519 request-signing seed, hex (RFC 9421)
    # The OPRF key (RFC 9497), a 32-byte seed, hex: on the regulator's node only, which evaluates
    # the blinded IDs the members send and so never sees one.
    oprf_key: SecretStr | None = None
    regulator_url: str | None = None  # where a member asks for its pseudonyms
    max_blinded: int = Field(default=5000, ge=1)  # blinded elements per OPRF request
    # How long an inquiry waits for the other members' summaries: a member not answering by then
    # is marked unavailable and the report says its view is partial.
    peer_budget_ms: int = Field(default=300, ge=1, le=10_000)
    # The monthly PSI cardinality runs a member starts (background worker): for last month, from
    # this day of the month on, checked this often.
    psi_day: int = Field(default=15, ge=1, le=28)
    psi_check_interval_seconds: float = Field(default=3600, gt=0)

    def oprf_key_bytes(self) -> bytes | None:
        return bytes.fromhex(self.oprf_key.get_secret_value()) if self.oprf_key else None

    def signing_key_bytes(self) -> bytes:
        if self.signing_key is None or self.uscc is None:
            raise MissingSecret("ZHENGXIN_FEDERATION__USCC / ZHENGXIN_FEDERATION__SIGNING_KEY are not set")
        return bytes.fromhex(self.signing_key.get_secret_value())


class NotificationSettings(BaseModel):
    """Pushing a person's alerts to the webhook they registered."""

    deliver_interval_seconds: float = 1.0  # how often the background worker looks at the outbox
    timeout_seconds: float = 5.0
    retry_base_seconds: float = 10.0  # backoff doubles from here ...
    retry_max_seconds: float = 3600.0  # ... up to this
    max_attempts: int = 60  # then the delivery is given up (the alert stays in the inbox)
    # Receivers must be public https endpoints: a person's URL pointing into the agency's own
    # network would let anyone make the agency call its internal services.
    require_https: bool = True
    allow_private_addresses: bool = False
    allowed_ports: list[int] = Field(default_factory=lambda: [443, 8443])  # the usual HTTPS ports only


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHENGXIN_", env_nested_delimiter="__", extra="ignore")

    database_url: str | None = None
    # How long a write waits for SQLite's single writer lock before the request is answered
    # 503 with Retry-After (reads never wait: they run on their own WAL connections).
    database_busy_seconds: float = Field(default=10.0, gt=0)
    agency_name: str = "zhengxin Credit Reference"  # the issuer named in signed artefacts
    data_dir: Path = Path("zhengxin-data")
    # Keyed hash for person tokens: HMAC-SHA256(pepper, normalised resident ID).
    pepper: SecretStr | None = None
    # PII vault keys: key id -> 32-byte key, hex. The active one encrypts; all decrypt.
    vault_keys: dict[str, SecretStr] = Field(default_factory=dict)
    vault_active_key: str | None = None
    # Transparency log signing keys: key id -> 32-byte Ed25519 seed, hex. The active one
    # signs tree heads; the others stay so that old heads remain verifiable.
    log_signing_keys: dict[str, SecretStr] = Field(default_factory=dict)
    log_active_key: str | None = None
    log_sth_interval_seconds: float = 60.0
    log_sequence_interval_seconds: float = 1.0
    # Run the background worker (log sequencing and signing, webhook alerts, dispute
    # escalation) in this server process (`serve --workers N` runs one beside the workers).
    log_schedule: bool = True
    # On PostgreSQL one background worker per deployment leads (an advisory lock); the others
    # try again this often, so a leader that dies is replaced within about this long.
    background_takeover_seconds: float = Field(default=1.0, gt=0)
    # One line per request from our own access logger: method, route template, status, time,
    # the acting party. Never a raw path or query string (they may carry what a client put there).
    access_log: bool = True
    catalog_path: Path | None = None
    intake_chunk_rows: int = 50_000
    analyze_after_records: int = 50_000  # a batch this large refreshes the planner's statistics
    max_batch_bytes: int = 2 * 1024**3
    # Any other request body (JSON, forms): larger is 413 before it is read (issue 15, finding 11).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A longer record (one CSV or JSON line) is quarantined as record_too_large, its first KiB kept.
    max_record_bytes: int = Field(default=64 * 1024, ge=1024)
    # Where uploads and intake's prepared chunks are spooled (private to this user; see kit.spool).
    spool_dir: Path | None = None
    # Agency document keys (authorizations): key id -> 32-byte Ed25519 seed, hex. Separate
    # from the log's keys, so a signature made for one purpose never serves another.
    artefact_signing_keys: dict[str, SecretStr] = Field(default_factory=dict)
    artefact_active_key: str | None = None
    rules: RuleParameters = Field(default_factory=RuleParameters)
    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    disputes: DisputeSettings = Field(default_factory=DisputeSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    federation: FederationSettings = Field(default_factory=FederationSettings)
    analytics_backend: str = "duckdb"  # engine of the supervision analytics: duckdb (embedded) or pyspark (extra)
    # The portal's session cookie is Secure (HTTPS only) unless a page is asked for over plain HTTP by
    # a loopback name (None, the default); true or false forces it either way.
    portal_secure_cookie: bool | None = None
    oversight_epsilon: float = Field(default=1.0, gt=0)  # PIPL-58: privacy budget of one oversight report

    @cached_property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_FILE).resolve()}"

    def pepper_bytes(self) -> bytes:
        if self.pepper is None:
            raise MissingSecret("ZHENGXIN_PEPPER is not set; run `zhengxin init` or set it")
        return bytes.fromhex(self.pepper.get_secret_value())

    def vault_key_bytes(self) -> dict[str, bytes]:
        if not self.vault_keys or self.vault_active_key not in self.vault_keys:
            raise MissingSecret(
                "ZHENGXIN_VAULT_KEYS / ZHENGXIN_VAULT_ACTIVE_KEY are not set; run `zhengxin init` or set them"
            )
        return {kid: bytes.fromhex(v.get_secret_value()) for kid, v in self.vault_keys.items()}

    def log_key_bytes(self) -> dict[str, bytes]:
        if not self.log_signing_keys or self.log_active_key not in self.log_signing_keys:
            raise MissingSecret(
                "ZHENGXIN_LOG_SIGNING_KEYS / ZHENGXIN_LOG_ACTIVE_KEY are not set; run `zhengxin init` or set them"
            )
        return {kid: bytes.fromhex(v.get_secret_value()) for kid, v in self.log_signing_keys.items()}

    def artefact_key_bytes(self) -> dict[str, bytes]:
        if not self.artefact_signing_keys or self.artefact_active_key not in self.artefact_signing_keys:
            raise MissingSecret(
                "ZHENGXIN_ARTEFACT_SIGNING_KEYS / ZHENGXIN_ARTEFACT_ACTIVE_KEY are not set; "
                "run `zhengxin init` or set them"
            )
        return {kid: bytes.fromhex(v.get_secret_value()) for kid, v in self.artefact_signing_keys.items()}


class MissingSecret(RuntimeError):
    pass


def load_settings(data_dir: Path | None = None, database_url: str | None = None) -> Settings:
    """Settings for a deployment: its directory's secrets.env, then the environment, then arguments."""
    overrides: dict = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    env_dir = data_dir
    if env_dir is None:
        env_dir = Settings().data_dir
    env_file = Path(env_dir) / SECRETS_FILE
    return Settings(_env_file=env_file if env_file.exists() else None, **overrides)


def new_secrets_env() -> str:
    """Fresh secrets for a new deployment, as the text of a secrets.env file."""
    import json

    pepper = secrets.token_hex(32)
    key_id = "k1"
    keys = {key_id: secrets.token_hex(32)}
    log_keys = {"log1": secrets.token_hex(32)}
    artefact_keys = {"doc1": secrets.token_hex(32)}
    return (
        f"ZHENGXIN_PEPPER={pepper}\n"
        f"ZHENGXIN_VAULT_KEYS='{json.dumps(keys)}'\n"
        f"ZHENGXIN_VAULT_ACTIVE_KEY={key_id}\n"
        f"ZHENGXIN_LOG_SIGNING_KEYS='{json.dumps(log_keys)}'\n"
        "ZHENGXIN_LOG_ACTIVE_KEY=log1\n"
        f"ZHENGXIN_ARTEFACT_SIGNING_KEYS='{json.dumps(artefact_keys)}'\n"
        "ZHENGXIN_ARTEFACT_ACTIVE_KEY=doc1\n"
    )
