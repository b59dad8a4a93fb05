"""What a running deployment holds: settings, the database engine, the catalog, the vault, keys and policies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from zhengxin.catalog import Catalog, load_catalog
from zhengxin.config import Settings
from zhengxin.identity.vault import Vault
from zhengxin.kit.db import make_engine, transaction

T = TypeVar("T")


class Runtime:
    def __init__(self, settings: Settings, engine: Engine | None = None):
        self.settings = settings
        self.engine = engine or make_engine(settings.url, busy_seconds=settings.database_busy_seconds)
        # What features build once per deployment and keep here (the log's signing keys, the
        # directory of organisations), by kind: the runtime holds them without importing them.
        self.kept_objects: dict[type, object] = {}

    def kept(self, kind: type[T], build: Callable[[], T]) -> T:
        """This deployment's one `kind`, built on first use."""
        if kind not in self.kept_objects:
            self.kept_objects.setdefault(kind, build())
        return self.kept_objects[kind]  # type: ignore[return-value]

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.catalog_path)

    @cached_property
    def vault(self) -> Vault:
        return Vault.from_settings(self.settings)

    @cached_property
    def artefact_keys(self):
        """The agency's document-signing keys (authorization artefacts)."""
        from zhengxin.kit.signing import SigningKeys

        return SigningKeys(self.settings.artefact_key_bytes(), self.settings.artefact_active_key)

    @cached_property
    def policy(self):
        """The policy decision point, its Cedar files parsed and checked once."""
        from zhengxin.policy import PolicyEngine

        return PolicyEngine()

    @cached_property
    def pepper(self) -> bytes:
        return self.settings.pepper_bytes()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with transaction(self.engine) as conn:
            yield conn

    @cached_property
    def _reader(self) -> Engine:
        if self.engine.dialect.name == "postgresql":
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        return make_engine(self.engine.url.render_as_string(hide_password=False), read_only=True)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads only. On PostgreSQL it is autocommit, so a read costs no BEGIN
        and ROLLBACK round trips (each statement reads its own snapshot); on SQLite it is one of
        the readers', which never wait for a writer (a long intake, say)."""
        with self._reader.connect() as conn:
            yield conn


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # async: no I/O, so no trip through the thread pool


# What a route declares to get the running deployment.
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
