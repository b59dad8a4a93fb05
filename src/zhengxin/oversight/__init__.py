"""The independent oversight body's periodic personal-information protection report (PIPL-58):
counts read from the stores and the transparency log, each release protected with OpenDP's
discrete Laplace noise at a stated privacy budget, rendered as JSON, HTML and PDF and tied to
the log by its signed tree head."""
