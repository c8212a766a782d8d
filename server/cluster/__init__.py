"""Scale-out: several servers sharing state through a Redis-protocol engine (``[cluster]``).

What is shared (when ``[cluster] enabled``): token revocations, deleted identities, identities
(with their scopes and client-secret hashes) and token signing keys, so a token issued by any
node works on every node and a revoke on any node is refused everywhere within 1 s. What stays
local: the segment snapshot, the UID2 keys, the mirror outbox, the identity database.

Failed ``/oauth/token`` logins are counted across nodes too.

Modules: ``settings`` (``[cluster]``), ``engine`` (client and key layout; imports redis-py),
``authrows`` (the auth tables as flat rows and the merge/prune rules), ``authsync`` (the
per-worker two-way sync), ``ratelimit`` (shared failure counts), ``lease`` (one holder of a named
job at a time; not wired to a job yet), ``node`` (lifespan hooks, readiness, status). Only
``settings`` is imported when the cluster is off.
"""

from server.cluster.settings import ClusterSettings

__all__ = ["ClusterSettings"]
