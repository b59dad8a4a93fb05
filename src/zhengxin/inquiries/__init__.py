"""Inquiries: a lender asks for a person's report or score under the person's authorization;
the decision point checks the authorization, the report is assembled, and the inquiry is
recorded, logged and charged in one unit of work."""
