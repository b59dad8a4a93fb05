"""Alerts to the person: every inquiry about them at once, kept in their inbox and pushed to
the webhook they register through an outbox, so none is lost while their receiver is down."""
