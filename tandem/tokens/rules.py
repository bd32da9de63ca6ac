"""Personal access tokens as data: their format, scopes and lifetimes, and small pure functions.

A token is ``tnd_`` followed by 48 letters and digits: the first 8 (the *lookup prefix*) find
the row, the whole string is checked against its stored SHA-256 digest. The 40 characters after
the prefix carry about 238 bits of randomness, so a plain SHA-256 (no salt, no slow hash) is the
standard, sufficient protection: nobody can guess a token from its digest, and the database never
holds the token itself.

A scope decides which endpoints a token may call; what it sees there is decided, as for every
reader, by the consent gate acting for the token's user. Scopes for endpoints that later issues
add are declared here already so tokens can be issued for them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Iterable

PREFIX = "tnd_"
LOOKUP_LENGTH = 8
SECRET_LENGTH = 40
ALPHABET = string.ascii_letters + string.digits
_SHAPE = re.compile(rf"^{PREFIX}[A-Za-z0-9]{{{LOOKUP_LENGTH + SECRET_LENGTH}}}$")

# scope -> what it allows (shown on the tokens page, in `tandem token create --help` and the docs)
SCOPES: dict[str, str] = {
    "patients:read": "Search patients and read their charts",
    "cohorts:read": "Read cohort lists",
    "worklists:read": "Read worklists and their items",
    "worklists:write": "Claim and resolve worklist items, log contact attempts",
    "tasks:read": "Read tasks",
    "tasks:write": "Create, claim, reassign and complete tasks",
    "emergency-access:read": "Read emergency access grants (your own; every one for privacy officers)",
    "emergency-access:write": "Declare emergency access (break-the-glass); review it (privacy officers)",
    "consents:read": "Read patients' consent directives (also as FHIR Consent), try a directive",
    "consents:write": "Record, sign and revoke consent directives",
}

DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 366  # every token expires; a year (and a day for leap years) at most
LIFETIME_CHOICES = (7, 30, 90, 180, 365)  # offered on the tokens page


def generate() -> str:
    """A new token: ``tnd_`` + lookup prefix + secret, from the operating system's CSPRNG."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LOOKUP_LENGTH + SECRET_LENGTH))
    return PREFIX + body


def is_well_formed(presented: str) -> bool:
    return bool(_SHAPE.match(presented))


def lookup_prefix(token: str) -> str:
    """The characters that find a token's row (not secret: shown in lists and the audit trail)."""
    return token[len(PREFIX) : len(PREFIX) + LOOKUP_LENGTH]


def digest(token: str) -> str:
    """SHA-256 of the whole token, hex: what the database stores instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Known scopes in declaration order; ``ValueError`` naming the first unknown one.

    Values may be separated by spaces or commas (``patients:read,tasks:write``).
    """
    wanted = {s for value in values for s in re.split(r"[\s,]+", value) if s}
    unknown = sorted(wanted - SCOPES.keys())
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})")
    if not wanted:
        raise ValueError("give at least one scope")
    return [s for s in SCOPES if s in wanted]


def check_lifetime(days: int) -> int:
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_LIFETIME_DAYS} days, not {days}")
    return days
