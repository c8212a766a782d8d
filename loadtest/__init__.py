"""Load test and benchmark harness (issue #9) and the store benchmark (issue #3).

Entry points::

    python -m loadtest.bench_all      # make bench: everything, one summary table, results/latest.*
    python -m loadtest.bench_http     # /rtd and /segments, ours vs bare, max-throughput search
    python -m loadtest.bench_store    # make bench-store: lookup µs, bulk-load s, USS per worker
    python -m loadtest.soak           # minutes at 80 % of the max rate: errors and RSS over time

Modules: ``traffic`` (the Index request mix), ``generator`` (open-loop, latency from the
intended send time), ``servers`` (subprocess servers on loopback), ``bare_app`` (the baseline),
``null_server`` (the generator's ceiling), ``report`` (tables, JSON, chart).
"""
