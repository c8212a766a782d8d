"""The auth db health probe must not break this process's SQLite locks (found by the two-node test).

Closing any plain file descriptor of ``auth.sqlite3`` drops every POSIX lock this process holds
on it; the CLI in another process then believes it is the last user, checkpoints and deletes the
WAL, and this process's long-lived connections (the revocation view, the cluster sync) stop
seeing commits — a CLI revoke would never reach the guard.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server.auth import AuthSettings, IdentityService, RevocationView


def test_a_commit_by_another_process_after_a_health_probe_reaches_the_view(tmp_path: Path) -> None:
    service = IdentityService(tmp_path, AuthSettings(scrypt_n=2**10))
    service.keys.ensure_key()
    identity, _ = service.create_identity("partner", ["rtd"], with_secret=False)
    view = RevocationView(tmp_path)
    view.refresh(force=True)
    service.health.probe()  # what /health/ready does every few seconds
    assert service.health.ok
    subprocess.run([sys.executable, "-c",
                    ("import sys; from server.auth import AuthSettings, IdentityService; "
                    "IdentityService(sys.argv[1], AuthSettings(scrypt_n=2**10)).revoke_tokens(sys.argv[2])"),
                    str(tmp_path), identity.id], check=True, capture_output=True,
                   cwd=Path(__file__).parents[2])
    view.refresh()
    assert bytes.fromhex(identity.id) in view.not_before
