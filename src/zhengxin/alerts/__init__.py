"""Fraud alerts: a person (or the agency, on a verified identity-theft report) marks a file so
that every report carries the alert and every lender confirms it verified the applicant."""
