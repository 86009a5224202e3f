"""``acme-api keys generate``: a new private JWKS, or a rotation of one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from acme.core.errors import Invalid
from acme_api.settings import Settings

from ._common import Subparsers

__all__ = ["register"]


def register(commands: Subparsers) -> None:
    keys = commands.add_parser(
        "keys", help="signing keys", description="The API's JWT signing keys."
    )
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = key_commands.add_parser(
        "generate",
        help="print a new private JWKS for ACME_JWT_KEYS",
        description=(
            "Print a private JWKS holding a new signing key (stdout), for ACME_JWT_KEYS. "
            "With --rotate FILE the new key comes first and FILE's newest keys follow, so "
            "tokens signed before the rotation stay valid until they expire."
        ),
    )
    generate.add_argument(
        "--algorithm", choices=["ES256", "EdDSA", "RS256"], help="default: ACME_JWT_ALGORITHM"
    )
    generate.add_argument("--rotate", metavar="FILE", help="the current private JWKS")
    generate.add_argument(
        "--keep", type=int, default=1, metavar="N", help="old keys kept with --rotate (default 1)"
    )
    generate.set_defaults(handler=cmd_keys_generate)


def cmd_keys_generate(args: argparse.Namespace, settings: Settings) -> int:
    from acme.core.security import KeySet, generate_key

    new_key = generate_key(args.algorithm or settings.jwt_algorithm)
    keys = KeySet([new_key])
    if args.rotate:
        try:
            current = KeySet.from_jwks(Path(args.rotate).read_text(encoding="utf-8"))
        except OSError as exc:
            raise Invalid(f"cannot read {args.rotate}: {exc.strerror}") from None
        keys = current.rotated(new_key, keep=args.keep)
    print(json.dumps(keys.private_jwks(), indent=2))
    print(
        f"new signing key {new_key.kid} ({new_key.algorithm}); this is a secret: "
        "store it as ACME_JWT_KEYS or in your secrets service",
        file=sys.stderr,
    )
    return 0
