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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHENGXIN_", env_nested_delimiter="__", extra="ignore")

    database_url: str | None = None
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
    catalog_path: Path | None = None
    intake_chunk_rows: int = 50_000
    max_batch_bytes: int = 2 * 1024**3
    rules: RuleParameters = Field(default_factory=RuleParameters)

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
    return (
        f"ZHENGXIN_PEPPER={pepper}\n"
        f"ZHENGXIN_VAULT_KEYS='{json.dumps(keys)}'\n"
        f"ZHENGXIN_VAULT_ACTIVE_KEY={key_id}\n"
        f"ZHENGXIN_LOG_SIGNING_KEYS='{json.dumps(log_keys)}'\n"
        "ZHENGXIN_LOG_ACTIVE_KEY=log1\n"
    )
