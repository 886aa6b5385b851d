"""One-time keys, so that a POST sent twice is done once: the hidden key of every form the
pages render and the API's `Idempotency-Key` header. A key is stored in the same unit of
work as the POST's effect, kept 24 hours, and answers a repeat with the first answer.

It stands just above the models and below every feature: the pages and the API use it
around whatever service a POST calls.
"""
from caseapp.services.idempotency import keys
from caseapp.services.idempotency.keys import (KEEP, KeyTaken, claim, find, fingerprint, prune,
                                               remember_answer, valid_key)

__all__ = ["keys", "KEEP", "KeyTaken", "claim", "find", "fingerprint", "prune", "remember_answer",
           "valid_key"]
