"""Domain-free pieces shared by every feature: database, errors, clock, ids, canonical JSON."""
