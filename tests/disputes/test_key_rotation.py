"""Vault key rotation reaches every sealed text: dispute steps, statements, webhook secrets."""

from __future__ import annotations

import secrets

from pydantic import SecretStr

from tests.bureau import Bureau
from tests.records import loan
from zhengxin.disputes import service as disputes
from zhengxin.flows.rotation import rotate_keys
from zhengxin.identity.vault import Vault
from zhengxin.notifications import service as notifications
from zhengxin.runtime import Runtime


def test_rotation_reseals_dispute_texts_statements_and_webhooks(client, parties, runtime):
    bureau = Bureau(client, parties)
    person = bureau.person(1, loan(1))
    runtime.settings.notifications.require_https = False
    runtime.settings.notifications.allow_private_addresses = True
    runtime.settings.notifications.allowed_ports = [9]
    client.put("/v1/me/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=person.headers)
    dispute = client.post("/v1/me/disputes", json={"account_id": "ACC-000001", "reason": "not mine"},
                          headers=person.headers).json()  # fmt: skip
    client.post("/v1/me/statements", json={"account_id": "ACC-000001", "text": "see dispute"}, headers=person.headers)

    settings = runtime.settings.model_copy(
        update={"vault_keys": {**runtime.settings.vault_keys, "k2": SecretStr(secrets.token_hex(32))}}
    )
    # the reason, the statement, the webhook row and the furnisher's version of the identity
    assert rotate_keys(settings, None, key_id="k2")["texts"] == 4
    assert rotate_keys(settings, None, key_id="k2")["texts"] == 0

    # Only the new key is needed to read them now.
    only_new = settings.model_copy(update={"vault_keys": {"k2": settings.vault_keys["k2"]}, "vault_active_key": "k2"})
    fresh = Runtime(only_new, runtime.engine)
    fresh.vault = Vault.from_settings(only_new)
    with fresh.reading() as conn:
        mine = disputes.get_for_person(conn, fresh, person_actor(conn, person), dispute["id"])
        assert mine["reason"] == "not mine"
        assert [s["text"] for s in disputes.statements_of(conn, fresh, person_actor(conn, person))] == ["see dispute"]
        token = person_actor(conn, person).person_token
        assert notifications.endpoint(conn, fresh, token)["url"] == "http://127.0.0.1:9/hook"
        assert [v["name"] for v in fresh.vault.versions(conn, token, None)] == ["张伟"]


def person_actor(conn, person):
    from zhengxin.parties.service import authenticate

    return authenticate(conn, person.headers["Authorization"].split()[1])
