"""The records store: accounts and their monthly snapshots, consumption and travel summaries."""
