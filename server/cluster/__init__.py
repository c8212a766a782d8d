"""Scale-out: several servers sharing state through a Redis-protocol engine (``[cluster]``).

What is shared (when ``[cluster] enabled``): token revocations, deleted identities, identities
(with their scopes and client-secret hashes) and token signing keys, so a token issued by any
node works on every node and a revoke on any node is refused everywhere within 1 s; failed
``/oauth/token`` logins; the Xandr mirror outbox (one stream per member, one sender across the
cluster, shared rate ceilings); live segment edits (an ordered stream every node applies);
published snapshots (a version key and a shared directory); the identity jobs' lease and progress.
What stays local: each node's snapshot file (kept in step by edits and publishes), taxonomy edits
(spread by a publish), the UID2 keys, the identity database.

Modules: ``settings`` (``[cluster]``), ``engine`` (client and key layout; imports redis-py),
``authrows`` / ``authsync`` (the auth tables and their two-way sync), ``ratelimit`` (shared failure
counts), ``edits`` (the edit stream's entries and how a snapshot applies them, no redis),
``datasync`` (each worker's edit / publish / progress loop), ``publish`` and ``publisher`` (making
and installing a published snapshot), ``lease`` (one holder of a named job at a time), ``jobs``
(the identity jobs under the lease), ``cli`` (``segment-server cluster …``), ``errors`` (no redis),
``node`` (lifespan hooks, readiness, status), ``stream`` / ``stream_forward`` / ``stream_rate`` /
``stream_source`` (the mirror outbox on the engine: the member's stream and consumer group, each
node's forwarder from its SQLite outbox, the shared rate script, the sender's intent source).
Only ``settings``, ``edits`` and ``errors`` are imported when the cluster is off.
"""

from server.cluster.settings import ClusterSettings

__all__ = ["ClusterSettings"]
