"""The JWT payload read strictly: one value per claim name, times that are real numbers.

``json.loads`` keeps the last of two equal names, accepts ``NaN`` and
``Infinity``, and PyJWT then reads a time claim with ``int()``, which takes
``"1700000000"`` and ``1e308`` alike. A claim two parsers could read
differently, or a time that never comes, is refused instead.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

import jwt

from .errors import InvalidToken

__all__ = ["MAX_NUMERIC_DATE", "TIME_CLAIMS", "StrictJWT", "parse_claims"]

MAX_NUMERIC_DATE = 253_402_300_799
"""The latest accepted ``exp``, ``nbf`` or ``iat``: 9999-12-31T23:59:59Z, in seconds."""

TIME_CLAIMS = ("exp", "nbf", "iat")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for name, value in pairs:
        if name in names:
            raise InvalidToken(f"the token repeats the {name!r} claim")
        names[name] = value
    return names


def _no_constant(name: str) -> NoReturn:
    raise InvalidToken(f"the token payload holds {name}, which is not JSON")


def _check_numeric_date(name: str, value: Any) -> None:
    # bool is an int subclass; a JSON true is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the token {name!r} claim is not a number")
    # The range first: math.isfinite overflows on a huge int (OverflowError).
    if not (0 < value <= MAX_NUMERIC_DATE and math.isfinite(value)):
        raise InvalidToken(f"the token {name!r} claim is out of range")


def parse_claims(raw: bytes) -> dict[str, Any]:
    """The claims of a JWS payload; every object's names unique, time claims sane numbers.

    Raises:
        InvalidToken: the payload is not a JSON object, repeats a name (at
            any depth), holds ``NaN``/``Infinity``, or has an ``exp``,
            ``nbf`` or ``iat`` that is not a number in ``(0, MAX_NUMERIC_DATE]``.
    """
    try:
        payload = json.loads(raw, object_pairs_hook=_unique, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidToken("the token payload is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidToken("the token payload is not a JSON object")
    for name in TIME_CLAIMS:
        if name in payload:
            _check_numeric_date(name, payload[name])
    return payload


class StrictJWT(jwt.PyJWT):
    """PyJWT with :func:`parse_claims` as its payload reader (after the signature check)."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        return parse_claims(decoded["payload"])
