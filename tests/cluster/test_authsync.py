"""Two nodes (two data dirs, one real engine) in one process: tokens, revocations, identities, keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from server.auth import AuthSettings, Guard, IdentityService, RevocationView, db
from server.auth.guard import Denial
from server.cluster import ClusterSettings
from server.cluster.engine import Keys
from server.cluster.node import ClusterNode, start
from tests.cluster.engine import RedisProcess


class Node:
    """What one server node holds for auth: its own data dir, service, view and guard."""

    def __init__(self, data_dir: Path) -> None:
        settings = AuthSettings(scrypt_n=2**10)
        self.service = IdentityService(data_dir, settings)
        self.service.keys.ensure_key()  # as the lifespan does before the cluster joins
        self.view = RevocationView(data_dir, refresh_s=0.05)
        self.view.refresh(force=True)
        self.guard = Guard(self.view, settings)

    def allows(self, token: str) -> bool:
        self.view.refresh(force=True)
        return not isinstance(self.guard.authenticate(f"Bearer {token}", "rtd"), Denial)


def run(cluster: ClusterSettings, *nodes: Node, body: Callable[[list[ClusterNode]], Awaitable[None]]) -> None:
    async def main() -> None:
        members = [await start(cluster, node.view) for node in nodes]
        try:
            await body(members)
        finally:
            for member in members:
                await member.stop()
    asyncio.run(main())


async def settle(members: list[ClusterNode], rounds: int = 2) -> None:
    """Each member pushes and pulls ``rounds`` times (what the loops do every interval)."""
    for _ in range(rounds):
        for member in members:
            assert member.auth is not None
            assert await member.auth.sync_once()


def test_token_issued_on_one_node_works_on_the_other_and_a_revoke_reaches_it(
        tmp_path: Path, cluster: ClusterSettings) -> None:
    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")

    async def body(members: list[ClusterNode]) -> None:
        await settle(members)
        identity, _ = a.service.create_identity("partner", ["rtd"], with_secret=False)
        token = a.service.get_token(identity.id).token
        await settle(members)
        assert b.allows(token), "node b verifies a token node a signed (shared keys)"
        assert b.service.get_identity(identity.id).scopes == frozenset({"rtd"})
        a.service.revoke_tokens(identity.id)
        await settle(members)
        assert not b.allows(token)
        assert b.allows(b.service.get_token(identity.id).token), "a new token (after the revoke) works"

    run(cluster, a, b, body=body)


def test_delete_on_one_node_removes_the_identity_everywhere(tmp_path: Path, cluster: ClusterSettings) -> None:
    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")

    async def body(members: list[ClusterNode]) -> None:
        identity, _ = b.service.create_identity("gone", ["rtd", "segments"], with_secret=False)
        token = b.service.get_token(identity.id).token
        await settle(members)
        assert a.allows(token)
        a.service.delete_identity(identity.id)
        await settle(members)
        assert not b.allows(token)
        assert identity.id not in {i.id for i in b.service.list_identities()}

    run(cluster, a, b, body=body)


def test_a_later_node_takes_the_clusters_signing_key(tmp_path: Path, cluster: ClusterSettings) -> None:
    """Both nodes made kid 1 on their own; the engine's (first pushed) wins on both."""
    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")
    assert a.service.keys.signing_key().secret != b.service.keys.signing_key().secret

    async def body(members: list[ClusterNode]) -> None:
        await settle(members)
        assert a.service.keys.signing_key() == b.service.keys.signing_key()

    run(cluster, a, b, body=body)


def test_engine_down_keeps_the_last_known_state_and_pushes_local_changes_later(
        tmp_path: Path, own_engine: RedisProcess) -> None:
    cluster = ClusterSettings(enabled=True, url=own_engine.url, connect_timeout_s=0.2, command_timeout_s=0.2)
    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")

    async def body(members: list[ClusterNode]) -> None:
        first, _ = a.service.create_identity("first", ["rtd"], with_secret=False)
        second, _ = a.service.create_identity("second", ["rtd"], with_secret=False)
        old_first, old_second = (a.service.get_token(i.id).token for i in (first, second))
        a.service.revoke_tokens(first.id)
        await settle(members)
        own_engine.kill()
        assert members[0].auth is not None
        assert not await members[0].auth.sync_once()
        check = members[0].readiness()
        assert check.ok and check.degraded and "unreachable" in check.detail
        assert not b.allows(old_first), "the revocation known before the outage stays"
        assert b.allows(old_second)
        a.service.revoke_tokens(second.id)  # during the outage: kept in a's auth db, not dropped
        own_engine.start()
        await settle(members)
        assert not b.allows(old_second), "pushed once the engine is back"
        assert not members[1].readiness().degraded

    run(cluster, a, b, body=body)


@pytest.mark.parametrize("url", [pytest.param("redis://127.0.0.1:1/0", id="nothing-listening")])
def test_a_node_starts_degraded_when_the_engine_is_unreachable(tmp_path: Path, url: str) -> None:
    node = Node(tmp_path / "a")
    cluster = ClusterSettings(enabled=True, url=url, connect_timeout_s=0.1, command_timeout_s=0.1)

    async def body(members: list[ClusterNode]) -> None:
        check = members[0].readiness()
        assert check.ok and check.degraded

    run(cluster, node, body=body)


DAY_MS = 86_400_000


def _age_revocation(node: Node, identity_id: str, days: float) -> None:
    """Make ``identity_id``'s revocation row look ``days`` old (as if the revoke happened then)."""
    with db.write_tx(node.service.store.path) as conn:
        conn.execute("UPDATE revocations SET revoked_ms = revoked_ms - ? WHERE identity_id = ?",
                     (int(days * DAY_MS), identity_id))


def test_old_revocations_are_pruned_but_deletions_are_kept_for_good(
        tmp_path: Path, cluster: ClusterSettings) -> None:
    """A node that missed a delete during a long partition cannot bring the identity back."""
    a, stale = Node(tmp_path / "a"), Node(tmp_path / "stale")
    revoked, _ = a.service.create_identity("revoked", ["rtd"], with_secret=False)
    deleted, _ = a.service.create_identity("deleted", ["rtd"], with_secret=False)
    for row in a.service.list_identities():  # the stale node knew both identities before the partition
        with db.write_tx(stale.service.store.path) as conn:
            conn.execute("INSERT INTO identities (id, display_name, scopes, created_ms) VALUES (?,?,?,?)",
                         (row.id, row.display_name, "rtd", 0))
    a.service.revoke_tokens(revoked.id)
    a.service.delete_identity(deleted.id)
    _age_revocation(a, revoked.id, 2)
    _age_revocation(a, deleted.id, 2)
    keys = Keys(cluster.key_prefix)

    async def body(members: list[ClusterNode]) -> None:
        await settle(members[:1])
        engine = members[0].engine
        assert not await engine.hexists(keys.revocations, revoked.id), "a 2-day-old revoke is not published"
        assert await engine.hexists(keys.revocations, deleted.id), "a deletion is kept"
        stale_member = await start(cluster, stale.view)  # rejoins after the partition
        members.append(stale_member)
        await settle(members)
        assert deleted.id not in {i.id for i in stale.service.list_identities()}
        assert not await engine.hexists(keys.identities, deleted.id), "not resurrected"
        assert deleted.id not in {i.id for i in a.service.list_identities()}

    run(cluster, a, body=body)


def test_an_engine_that_lost_its_data_is_republished_before_a_new_node_joins(
        tmp_path: Path, cluster: ClusterSettings) -> None:
    a, b, late = Node(tmp_path / "a"), Node(tmp_path / "b"), Node(tmp_path / "late")
    identity, _ = a.service.create_identity("partner", ["rtd"], with_secret=False)
    token = a.service.get_token(identity.id).token
    keys = Keys(cluster.key_prefix)

    async def body(members: list[ClusterNode]) -> None:
        await settle(members)
        await members[0].engine.delete(keys.revocations, keys.identities, keys.signing_keys,
                                       keys.auth_version)
        await settle(members)  # the nodes notice the version went back and publish again
        members.append(await start(cluster, late.view))
        await settle(members)
        assert late.allows(token), "the late node took the cluster's key, not its own"
        assert a.allows(token) and b.allows(token)

    run(cluster, a, b, body=body)
