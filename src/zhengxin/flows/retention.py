"""The retention run (PIPL-47, CR-16): the record store's erasing run (records.retention), given
what it needs from consent, parties, disputes and the vault."""

from __future__ import annotations

from datetime import date

from zhengxin.consent import service as consent
from zhengxin.disputes.repository import open_dispute_exists
from zhengxin.federation import pseudonyms
from zhengxin.identity import vault
from zhengxin.parties.service import active_account_exists
from zhengxin.records import retention
from zhengxin.records.retention import Neighbours, Progress


def _purge_identities(conn, still_needed) -> list[str]:
    """The identities nothing needs any more, and their federation pseudonyms with them."""
    purged = vault.purge(conn, still_needed)
    pseudonyms.forget(conn, purged)
    return purged


NEIGHBOURS = Neighbours(
    withdrawn_of_type=consent.withdrawn_of_type,
    holds_identity=lambda token, today: [
        active_account_exists(token),
        consent.live_authorization_exists(token, today),
        open_dispute_exists(token),
    ],
    purge_identities=_purge_identities,
)


def run(conn, runtime, as_of: date, progress: Progress | None = None) -> dict:
    """Erase everything past its retention period on `as_of` and every identity nothing needs
    any more; log one `retention.erased` event per person and record the run. Never commits."""
    return retention.run(conn, runtime, as_of, progress, neighbours=NEIGHBOURS)
