"""The registry of parties (six roles), their API keys (hashed) and bearer authentication."""
