"""Ed25519 signing keys by key id: the active key signs, every key stays to verify old signatures."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class SigningKeys:
    def __init__(self, seeds: dict[str, bytes], active_key_id: str):
        if active_key_id not in seeds:
            raise ValueError("the active signing key id has no key")
        self.keys = {kid: Ed25519PrivateKey.from_private_bytes(seed) for kid, seed in seeds.items()}
        self.active_key_id = active_key_id

    def public_keys(self) -> dict[str, str]:
        """Key id -> raw 32-byte public key, hex."""
        return {
            kid: key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex() for kid, key in self.keys.items()
        }

    def sign(self, message: bytes) -> str:
        """Signature of `message` by the active key, hex."""
        return self.keys[self.active_key_id].sign(message).hex()


def signature_valid(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
