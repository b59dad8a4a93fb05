"""Work that spans features and belongs to none: the retention run (records, consent, parties,
disputes and the vault) and key rotation (every sealed column). Each calls the owners'
functions; no feature imports a flow."""
