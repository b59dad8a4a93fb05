"""Stable codes the report pages show as words, for the lender's and the person's pages alike."""

# The PBOC monthly status symbols, in the order of the legend.
STATUSES = {
    "N": "normal", "1": "1–30 days overdue", "2": "31–60 days", "3": "61–90 days", "4": "91–120 days",
    "5": "121–150 days", "6": "151–180 days", "7": "over 180 days", "D": "paid by guarantor",
    "Z": "settled with assets", "C": "settled", "G": "terminated", "#": "unknown",
}  # fmt: skip
# Stable codes shown as words (msgids: the templates translate them).
LABELS = {
    "loan_application": "Loan application", "credit_card_application": "Credit card application",
    "post_loan_management": "Post-loan management", "guarantee_review": "Guarantee review",
    "account_opening": "Account opening", "report": "Credit report", "score": "Credit score",
    "microloan": "Microloan", "consumer_loan": "Consumer loan", "credit_line": "Credit line",
    "bnpl": "Buy now, pay later", "mortgage": "Mortgage", "auto": "Auto loan", "current": "Current",
    "overdue": "Overdue", "closed": "Settled", "written_off": "Written off", "loan": "Loans",
    "consumption": "Consumption", "travel": "Travel", "credit_card": "Credit card",
    "liability": "Liabilities for others", "public_record": "Public records", "guarantee": "Guarantee",
    "co_borrower": "Co-borrower", "active": "Active", "released": "Released", "open": "Open",
    "concluded": "Concluded", "court_enforcement": "Court enforcement",
    "dishonest_debtor": "Dishonest-debtor list", "tax_arrears": "Tax arrears",
    "administrative_penalty": "Administrative penalty", "federation": "Other agencies' summaries",
}  # fmt: skip
