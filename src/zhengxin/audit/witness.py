"""A witness: check a new tree head against the last one it cosigned, then countersign it.

Run by the regulator and each overseer (`zhengxin log witness`), against any server."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from zhengxin.audit.verify import VerificationError, cosign_message, verify_consistency, verify_head


def public_key_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def cosign_latest(http, api_key: str, key: Ed25519PrivateKey, state: Path) -> dict:
    """Cosign the server's latest head if it extends the last head this witness signed."""
    headers = {"Authorization": f"Bearer {api_key}"}

    def call(method: str, path: str, **kw):
        r = http.request(method, path, headers=headers, **kw)
        r.raise_for_status()
        return r.json()

    head = call("GET", "/v1/log/sth")
    keys = {k["key_id"]: k["public_key"] for k in call("GET", "/v1/log/keys")["keys"]}
    verify_head(head, keys)
    before = json.loads(state.read_text()) if state.exists() else None
    if before is not None and before["tree_size"]:
        if head["tree_size"] < before["tree_size"]:
            raise VerificationError(f"the log shrank from {before['tree_size']} to {head['tree_size']}")
        proof = call(
            "GET", "/v1/log/proof/consistency", params={"first": before["tree_size"], "second": head["tree_size"]}
        )
        verify_consistency(
            before["tree_size"], head["tree_size"], [bytes.fromhex(p) for p in proof["proof"]],
            bytes.fromhex(before["root_hash"]), bytes.fromhex(head["root_hash"]),
        )  # fmt: skip
    call("POST", "/v1/log/witnesses/key", json={"public_key": public_key_hex(key)})
    signature = key.sign(cosign_message(head)).hex()
    body = {k: head[k] for k in ("tree_size", "timestamp", "root_hash")}
    call("POST", "/v1/log/cosign", json={**body, "signature": signature})
    state.write_text(json.dumps(body))
    return body
