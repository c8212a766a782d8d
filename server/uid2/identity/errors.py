"""Why an identity job stopped, and which operator failures are worth retrying.

::

    IdentityError              a job could not finish; its status row says why
    ├── OperatorRejected       400 or 401/403: retrying cannot help — fix the request or the key
    └── OperatorUnavailable    429, 5xx, timeouts or garbage, still failing after the retries

Both carry ``endpoint`` and ``status_code`` so logs and ``job status`` name the call that failed.
A job that raises has committed every batch before the failing one; the next run resumes there.
"""

from __future__ import annotations

from typing import Final

__all__ = ["HINTS", "IdentityError", "OperatorRejected", "OperatorUnavailable", "is_retryable"]

# What an operator status usually means for *our* calls (the 400 body is not always explicit).
HINTS: Final[dict[int, str]] = {
    400: "client_error: bad envelope, client clock more than a minute off, >5000 ids or >1 MB",
    401: "unauthorized: check the API key, its MAPPER role, and integ vs prod",
    403: "forbidden: the API key lacks the role this endpoint needs (MAPPER)",
    429: "throttled: backing off; keep batches sequential on one connection",
}
_REJECTED: Final = frozenset({400, 401, 403})


class IdentityError(Exception):
    def __init__(self, message: str, *, endpoint: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status_code = status_code


class OperatorRejected(IdentityError):
    pass


class OperatorUnavailable(IdentityError):
    pass


def is_retryable(status_code: int | None) -> bool:
    """429 and 5xx (and transport failures, which have no status) are retried; 4xx are not."""
    return status_code not in _REJECTED and (status_code is None or status_code == 429
                                             or status_code >= 500 or status_code == 200)
