"""UID2 on the data-provider side: DII → raw UID2, salt-bucket rotation, opt-outs.

Public API::

    from server.uid2.identity import IdentitySettings, OptOutIndex, open_jobs, IdentityWorker

    async with open_jobs(data_dir, identity_settings, uid2_settings, on_optout=queue_removals) as jobs:
        await IdentityWorker(jobs, identity_settings, data_dir).run_forever(stop_event)

    optouts = OptOutIndex(data_dir)                  # /rtd, once per worker process
    optouts.is_opted_out(raw_uid, established)       # per decrypted token; no I/O between refreshes

Exceptions (see :mod:`.errors`): ``IdentityError`` → ``OperatorRejected`` (400/401/403, not
retried) and ``OperatorUnavailable`` (429/5xx/timeouts after retries); ``InvalidDii`` (a
``ValueError``) for a row value that is no email, E.164 phone or SHA-256 hash.
"""

from segments.dii import InvalidDii, hash_dii, normalise_email, normalise_phone

from .errors import IdentityError, OperatorRejected, OperatorUnavailable
from .jobs import IdentityJobs, JobReport
from .mapping import IdentityDB
from .optout_index import OptOutIndex
from .settings import IdentitySettings
from .worker import IdentityWorker, exclusive, open_jobs

__all__ = [
    "IdentityDB",
    "IdentityError",
    "IdentityJobs",
    "IdentitySettings",
    "IdentityWorker",
    "InvalidDii",
    "JobReport",
    "OperatorRejected",
    "OperatorUnavailable",
    "OptOutIndex",
    "exclusive",
    "hash_dii",
    "normalise_email",
    "normalise_phone",
    "open_jobs",
]
