"""Authorizations: a person lets one lender query them for one purpose, scope and time.

Each authorization is a canonical-JSON artefact signed by the agency (Ed25519), verifiable
offline with the published key; it never changes after issue, and revoking it stops the
next use at once.
"""
