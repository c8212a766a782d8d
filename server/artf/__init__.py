"""Index Exchange's gRPC interface: IAB Tech Lab ARTF v1.0 ``RTBExtensionPoint/GetMutations``.

The RPC runs the same parse → gate → decrypt → lookup chain as ``POST /rtd``
(:meth:`server.rtd.RtdEndpoint.run`) and only encodes the answer differently, as ARTF mutations.

* :mod:`server.artf.settings` — the ``[grpc]`` config section;
* :mod:`server.artf.convert` — protobuf bid request → the dict the OpenRTB parser reads, and the
  answer → ``RTBResponse`` bytes;
* :mod:`server.artf.service` — the RPC handler: auth, deadlines, bad input, metrics;
* :mod:`server.artf.server` — the ``grpc.aio`` server with health and reflection, per worker;
* :mod:`server.artf.metrics` — its Prometheus metrics;
* :mod:`server.artf.pb` — protoc's output for ``proto/*.proto`` (``proto/generate.py``).

Nothing heavy is imported here: ``server.rtd`` imports :mod:`server.artf.metrics`.
"""
