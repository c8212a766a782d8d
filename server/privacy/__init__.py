"""Privacy gate for ``/rtd``: COPPA, GDPR/TCF v2, US Privacy, GPP, LMT and GPC.

One module per regime, each raw → parsed (``usp``, ``tcf``, ``gpp``, ``coppa``, ``lmt``), and
``gate`` holding the rules as one table. Typical use::

    gate = PrivacyGate(PrivacySettings.from_mapping(config["privacy"]))
    decision = gate.decide(signals.privacy)   # never raises
    PRIVACY_DECISIONS.labels(decision.reason).inc()
"""

from server.privacy.gate import RULES, PrivacyGate
from server.privacy.reasons import REASONS
from server.privacy.settings import PrivacyConfigError, PrivacySettings

__all__ = ["REASONS", "RULES", "PrivacyConfigError", "PrivacyGate", "PrivacySettings"]
