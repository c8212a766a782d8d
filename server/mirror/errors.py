"""Exceptions raised by the Xandr client (I/O outcomes; per-entity warnings are data, not errors).

    XandrError
    ├── RetryableError      timeout, dropped connection, 5xx, 429 / "Rate limit exceeded": back off
    │   └── AuthRateLimited our local 10-auths-per-5-min budget (or Xandr's) is spent: wait
    ├── AuthFailed          /auth refused the credentials (NOAUTH after a fresh token, NOAUTH_DISABLED)
    ├── PayloadTooLarge     HTTP 413: the batcher's 1 MB guard was wrong; split and resend
    └── Rejected            any other 4xx or error_id for the whole request (SYNTAX, UNAUTH, …)
"""

from __future__ import annotations


class XandrError(Exception):
    """Base class; ``reason`` is a short stable code used as a metric label."""

    reason = "error"


class RetryableError(XandrError):
    def __init__(self, reason: str, retry_after: float | None = None, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.retry_after = retry_after


class AuthRateLimited(RetryableError):
    def __init__(self, retry_after: float) -> None:
        super().__init__("auth_limit", retry_after, "10 authentications per 5 minutes spent")


class AuthFailed(XandrError):
    reason = "auth_failed"


class PayloadTooLarge(XandrError):
    reason = "payload_too_large"


class Rejected(XandrError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
