"""Billing: a price list per product and lender tier (FEE-1), one charge per allowed inquiry,
monthly invoices per lender, and monthly statements sharing part of each fee among the
furnishers whose records the report used."""
