"""The transparency log: an RFC 6962 Merkle tree of every event that touches personal data.

`merkle` and `verify` are pure (hashlib and cryptography only), so an outside auditor can use
them without the server; `service` stores the tree in the SQL store and signs tree heads.
"""
