"""Supervision: the regulator's tools that keep their own records (app collection reviews, orders
to furnishers, the agency's shareholder register and neutrality view) and the yearly
data-security risk assessment (DSL-30)."""
