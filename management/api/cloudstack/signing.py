"""Request signatures: CloudStack's v1 (HMAC-SHA1 over sorted, encoded, lower-cased params) and v3 (`expires`).

The server-side canonical form is Java's: names as sent, sorted case-sensitively, values through
URLEncoder.encode (space -> %20), the whole string lower-cased. Real clients deviate (libcloud and Marvin sort
lower-cased names and leave `[`, `]`, `~` unescaped); a request is accepted if any of those variants matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from management.errors import Unauthorized

# java.net.URLEncoder keeps exactly these characters; everything else is percent-encoded (space is handled apart).
_JAVA_SAFE = "-_.*"


def java_urlencode(value: str) -> str:
    return quote(value, safe=_JAVA_SAFE).replace("~", "%7E")  # Python keeps ~, Java encodes it


def canonical_string(params: Mapping[str, str], *, lower_sort: bool = False, encoder=java_urlencode) -> str:  # type: ignore[no-untyped-def]
    names = [n for n in params if n.lower() != "signature"]
    names.sort(key=(lambda n: n.lower()) if lower_sort else None)
    return "&".join(f"{n}={encoder(params[n])}" for n in names).lower()


def sign(params: Mapping[str, str], secret: str) -> str:
    """The signature a Java CloudStack server expects for these parameters."""
    return _hmac(secret, canonical_string(params))


def _hmac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_matches(params: Mapping[str, str], secret: str, signature: str) -> bool:
    """Accepts the Java-exact canonical form and the encoder/sort variants of real clients."""
    names = [n for n in params if n.lower() != "signature"]
    encoded = {n: java_urlencode(params[n]) for n in names}  # once per value; the variants are replacements of it
    tilde = {n: e.replace("%7E", "~") for n, e in encoded.items()}
    brackets = {n: e.replace("%5B", "[").replace("%5D", "]") for n, e in tilde.items()}
    candidates = {canonical_string(form, lower_sort=lower_sort, encoder=str)
                  for lower_sort in (False, True) for form in (encoded, tilde, brackets)}
    ok = False
    for c in candidates:
        # Compare every candidate (constant time per comparison) rather than stopping at the first match.
        ok |= hmac.compare_digest(_hmac(secret, c), signature)
    return ok


_TZ_COLON = re.compile(r"([+-]\d\d):?(\d\d)$")


def parse_expires(value: str) -> datetime:
    """Accepts the forms DateUtil.parseTZDateString does: ISO offset (Z, +00:00, +0000), fractional seconds."""
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    v = _TZ_COLON.sub(lambda m: f"{m.group(1)}:{m.group(2)}", v)
    try:
        dt = datetime.fromisoformat(v)
    except ValueError as exc:
        raise Unauthorized(f"invalid expires parameter: {value}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def check_expiry(params: Mapping[str, str], now: datetime | None = None) -> None:
    """signatureVersion=3 makes `expires` mandatory and the request void once it has passed."""
    version = next((v for k, v in params.items() if k.lower() == "signatureversion"), None)
    if version != "3":
        return
    expires = next((v for k, v in params.items() if k.lower() == "expires"), None)
    if not expires:
        raise Unauthorized("signatureVersion 3 requires the expires parameter")
    when = parse_expires(expires)
    if when < (now or datetime.now(UTC)):
        raise Unauthorized("the request has expired (expires parameter is in the past)")
