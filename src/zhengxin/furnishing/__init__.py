"""Furnisher intake: parse, validate against the catalog, minimise, store; quarantine the rest."""
