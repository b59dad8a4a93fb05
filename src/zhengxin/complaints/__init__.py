"""Complaints: a person complains about how their data was handled; the agency's staff answer
within the rights-response period; the independent overseers and the regulator read them (PIPL-58)."""
