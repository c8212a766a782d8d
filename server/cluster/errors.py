"""What a caller sees when a cluster-wide write cannot be shared now (no redis import here).

The admin API answers it with 503 ``cluster_unavailable`` (one row of
:data:`server.auth.exception_handlers.EXCEPTION_HANDLERS`), like a revoke the other nodes could not
learn: an edit is refused, never applied on one node only, never silently dropped.
"""

from server.errors import SegmentServerError


class ClusterUnavailable(SegmentServerError):
    """The engine could not take a write that every node must see; nothing was changed."""
