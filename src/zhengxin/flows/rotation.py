"""Vault key rotation: a new active key, then every ciphertext re-encrypted under it.

Old keys stay configured until rotation has finished, so reads keep working throughout;
the re-encryption is one transaction, so a failure leaves every value under its old key.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import zhengxin.schema  # noqa: F401 - every feature's tables, and so every sealed column in kit.sealing
from zhengxin.config import SECRETS_FILE, Settings, load_settings
from zhengxin.identity.vault import Vault
from zhengxin.kit import sealing
from zhengxin.kit.db import make_engine
from zhengxin.kit.errors import Problem


def rotate_keys(settings: Settings, data_dir: Path | None, key_id: str | None = None) -> dict:
    if key_id is None:
        if data_dir is None:
            raise Problem(422, "key_id_required", "with --db, add the new key to ZHENGXIN_VAULT_KEYS and pass --key-id")
        key_id = _add_key_to_secrets(data_dir, settings)
        settings = load_settings(data_dir, None)
    keys = settings.vault_key_bytes()
    if key_id not in keys:
        raise Problem(422, "unknown_key_id", "that key id is not in ZHENGXIN_VAULT_KEYS")
    vault = Vault(keys, key_id, settings.pepper_bytes())
    engine = make_engine(settings.url)
    try:
        with engine.begin() as conn:
            vault_count = vault.rotate(conn)
            # Every other sealed text: quarantined records, dispute texts, statements, webhook URLs
            # and secrets, order texts, complaints and their answers.
            resealed = sealing.reseal_all(conn, vault)
            quarantine_count = resealed.pop("furnishing_quarantine", 0)
            texts_count = sum(resealed.values())
    finally:
        engine.dispose()
    if data_dir is not None:
        _set_active(data_dir, key_id)
    return {"key_id": key_id, "vault": vault_count, "quarantine": quarantine_count, "texts": texts_count}


def _add_key_to_secrets(data_dir: Path, settings: Settings) -> str:
    keys = {k: v.get_secret_value() for k, v in settings.vault_keys.items()}
    n = len(keys) + 1
    while f"k{n}" in keys:
        n += 1
    key_id = f"k{n}"
    keys[key_id] = secrets.token_hex(32)
    path = data_dir / SECRETS_FILE
    text = path.read_text()
    text = re.sub(r"^ZHENGXIN_VAULT_KEYS=.*$", f"ZHENGXIN_VAULT_KEYS='{json.dumps(keys)}'", text, flags=re.M)
    path.write_text(text)
    return key_id


def _set_active(data_dir: Path, key_id: str) -> None:
    path = data_dir / SECRETS_FILE
    text = re.sub(
        r"^ZHENGXIN_VAULT_ACTIVE_KEY=.*$", f"ZHENGXIN_VAULT_ACTIVE_KEY={key_id}", path.read_text(), flags=re.M
    )
    path.write_text(text)
