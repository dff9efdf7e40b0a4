"""A network's extra settings kept as JSON in ``networks.details_json`` (MTUs, IPv6 DNS, the requested source-NAT
address, the router's public IPv6, ...): one reader and one writer for every module."""

from __future__ import annotations

import json
from typing import Any

from management.models.network import Network


def details(net: Network) -> dict[str, Any]:
    try:
        d = json.loads(net.details_json or "{}")
    except ValueError:
        d = {}
    return d if isinstance(d, dict) else {}


def get(net: Network, key: str) -> Any:
    return details(net).get(key)


def put(net: Network, **values: Any) -> None:
    """Sets (None: removes) the given keys."""
    d = details(net)
    for k, v in values.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    net.details_json = json.dumps(d, sort_keys=True) if d else None
