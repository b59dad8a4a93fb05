"""The federation of credit reference agencies: shared pseudonyms (RFC 9497 OPRF), signed
requests between members (RFC 9421), cross-agency summaries, and the regulator's PSI cardinality."""
