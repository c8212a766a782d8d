"""Segment data: typed keys, the taxonomy, file loading and the stores `/rtd` reads."""
