"""Objections (CR-25): a flagged record, the furnisher's answer, the agency's decision within
the objection period, escalation past it, corrections and who must hear of them, and the
person's statements beside their records (CR-16)."""
