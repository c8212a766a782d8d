"""The HTTP server: Index's /rtd and /segments, the admin API, auth, privacy, UID2 and the mirror."""

import segments as _segments  # noqa: F401 -- decides compiled vs source hot path before server.* loads
