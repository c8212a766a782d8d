"""A Starlette app with the admin routes over a real (empty) snapshot in a temp data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from segments.store import SnapshotDir, SQLiteStore
from server.admin import admin_routes
from server.auth import AuthSettings, Guard, IdentityService, RevocationView


class Env:
    def __init__(self, data_dir: Path) -> None:
        SnapshotDir(data_dir).ensure()
        self.store = SQLiteStore(data_dir, check_interval=0.0)
        settings = AuthSettings(scrypt_n=2**10)
        self.identities = IdentityService(data_dir, settings)
        self.view = RevocationView(data_dir)
        self.guard = Guard(self.view, settings)
        admin, _ = self.identities.create_identity("ops", ["admin"], with_secret=False)
        rtd, _ = self.identities.create_identity("index", ["rtd"], with_secret=False)
        self.admin = {"Authorization": "Bearer " + self.identities.get_token(admin.id).token}
        self.rtd = {"Authorization": "Bearer " + self.identities.get_token(rtd.id).token}
        routes = admin_routes(data_dir, lambda: self.store, self.guard, identities=self.identities,
                              providers={"mirror": lambda: {"outbox_depth": 0}, "broken": _broken})
        self.app = Starlette(routes=routes)


def _broken() -> object:
    raise RuntimeError("down")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path / "data")
    yield e
    e.store.close()
    e.view.close()


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    with TestClient(env.app) as c:
        yield c
