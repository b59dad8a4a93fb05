"""Who a record is about, without keeping who they are in clear.

Resident IDs and unified social credit codes are validated with python-stdnum; a person
is known everywhere by `person_token` = HMAC-SHA256(pepper, normalised resident ID);
name, ID number and phone live only in the PII vault, AES-256-GCM encrypted under a key id.
"""
