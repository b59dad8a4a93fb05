"""Creating and migrating a deployment: its directory, secrets and database schema."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from zhengxin.config import SECRETS_FILE, Settings, load_settings, new_secrets_env
from zhengxin.kit.db import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def ensure_secrets(data_dir: Path) -> Path:
    """An embedded deployment keeps its pepper and vault keys in DIR/secrets.env (mode 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRETS_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_secrets_env())
        return path
    # A deployment made by an older version gains the secrets added since (never replaced).
    text = path.read_text()
    fresh = [line for line in new_secrets_env().splitlines() if line.split("=", 1)[0] + "=" not in text]
    if fresh:
        path.write_text(text.rstrip("\n") + "\n" + "\n".join(fresh) + "\n")
    return path


def init_deployment(data_dir: Path | None, database_url: str | None) -> Settings:
    if database_url is None:
        ensure_secrets(data_dir or Settings().data_dir)
    settings = load_settings(data_dir, database_url)
    engine = make_engine(settings.url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return settings
