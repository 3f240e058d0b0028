"""Idempotency keys: the request fingerprint and the replay of a first result (promise 5)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from omniorder.model.errors import ConcurrencyConflict, IdempotencyConflict
from omniorder.serialization import converter
from omniorder.stores.base import IdempotencyRecord, UnitOfWork

__all__ = ["Claim", "canonical"]


def canonical(value: object) -> str:
    """``value`` as canonical JSON: through the converter, keys sorted, no spaces.

    Two values a command cannot tell apart give the same text: an enum member and its value, a
    dict and any other mapping with the same items, a tuple and a list.
    """
    return _CANONICAL.encode(converter.unstructure(value))


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""What ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` makes,
without a new encoder per call."""
_RESULT = json.JSONEncoder(ensure_ascii=False)
"""What ``json.dumps(..., ensure_ascii=False)`` makes: a stored result's text."""


class Claim:
    """A command's hold on its idempotency key for the length of its unit of work.

    ``Claim.take`` is the first write of a keyed command. If the key is new it is recorded, and
    :meth:`finish` stores the result when the command succeeds (a command that raises is rolled
    back, record and all, so errors are never stored under a key). If the key exists, the same
    command with the same request gets the first result back; anything else is a conflict.
    """

    def __init__(self, uow: UnitOfWork, key: str) -> None:
        self._uow = uow
        self._key = key

    @classmethod
    def take(
        cls,
        uow: UnitOfWork,
        key: str,
        *,
        command: str,
        request: Mapping[str, object],
        result_type: Any,
        now: datetime,
    ) -> tuple[Claim | None, Any]:
        """Claim ``key``, or find the first result under it.

        Returns:
            ``(claim, None)`` when the key is new, ``(None, first_result)`` on a replay.

        Raises:
            IdempotencyConflict: the key was used for another command or another request.
        """
        body = canonical(dict(request))
        fingerprint = hashlib.sha256(f"{command}\n{body}".encode()).hexdigest()
        existing = uow.claim_key(IdempotencyRecord(key, command, fingerprint, body, None, now))
        if existing is None:
            return cls(uow, key), None
        if existing.command != command or existing.fingerprint != fingerprint:
            first = json.loads(existing.request)
            now_asked = json.loads(body)
            differs = sorted(
                name
                for name in set(first) | set(now_asked)
                if first.get(name) != now_asked.get(name)
            )
            raise IdempotencyConflict(key, command, existing.command, differs)
        if existing.result is None:
            raise ConcurrencyConflict(f"the command holding key {key!r} has not finished")
        return None, converter.structure(json.loads(existing.result), result_type)

    def finish(self, result: object, result_type: Any) -> None:
        """Store the command's result under the key."""
        data = converter.unstructure(result, unstructure_as=result_type)
        self._uow.complete_key(self._key, _RESULT.encode(data))
