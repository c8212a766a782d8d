"""Segment data: typed keys, the taxonomy, file loading and the stores `/rtd` reads."""

from segments import compiled as _compiled

# Before any hot-path module is imported: a stale mypyc build must not answer requests.
_compiled.install()
