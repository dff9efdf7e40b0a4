"""The names a cloud gives to the objects it shares a host with, unique per cloud.

Several clouds may drive one host (a developer's sandbox, the test suite, CI): libvirt domains, bridges, router
namespaces and their veth pairs, nftables tables live in one namespace per host. Each cloud (its database) gets a
short **cloud id** at its first start, kept in the Hidden setting ``devcloud.cloud.id``, and every host name it makes
carries it:

- ``instance.name`` (CloudStack's suffix of instance names, ``i-<account>-<vm>-<instance.name>``) starts as
  ``VM<cloud id>``, so domains are ``i-2-1-VMk3x9q`` (CloudStack's shape; an operator may still set it);
- the zone's public bridge is ``dcp<cloud id><zone id>``;
- a router's key (namespace ``dcr-<key>``, host ends ``vrg-<key>``/``vrp-<key>``) is ``<cloud id><network id>``;
  a VPC's router's ``<cloud id>0v<vpc id>``, an internal load balancer's ``<cloud id>0b<its vm id>`` (ids in base
  36; a network's id never starts with ``0``, so the ``0`` keeps them apart from the network routers' keys);
- the security-group nftables tables are ``devcloud_sg_<cloud id>``.

Guest bridges (``dcb`` + the network uuid), pools and volumes (uuids) are unique already. A database created before
cloud ids existed keeps the id ``""`` and the names it always had (``dcpub<zone id>``, ``devcloud_sg``, ``-VM``), so a
running cloud keeps its bridges and routers across an upgrade.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.models.events import Configuration

SETTING = "devcloud.cloud.id"
_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 5
LEGACY_SG_TABLE = "devcloud_sg"


def generate() -> str:
    """A new cloud id: a letter, then letters and digits (36^4 * 26 ids; names stay short enough for IFNAMSIZ)."""
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH - 1))


def ensure(session: Session, *, fresh: bool) -> str:
    """At every start: a fresh database gets a new cloud id and ``instance.name`` = ``VM<id>``; a database that
    existed before cloud ids is recorded with ``""`` (its old names). Returns the cloud id."""
    row = session.get(Configuration, SETTING)
    if row is not None:
        return row.value or ""
    cid = generate() if fresh else ""
    session.add(Configuration(name=SETTING, value=cid, default_value="", category="Hidden",
                              description="This cloud's id in the names of the host objects it makes"))
    if cid:
        inst = session.get(Configuration, "instance.name")
        if inst is not None and (inst.value or "VM") == "VM":
            inst.value = inst.default_value = instance_name(cid)
    session.flush()
    return cid


def cloud_id(session: Session) -> str:
    return session.scalar(select(Configuration.value).where(Configuration.name == SETTING)) or ""


def instance_name(cid: str) -> str:
    """The default of CloudStack's ``instance.name`` for this cloud."""
    return f"VM{cid}"


def public_bridge(zone_id: int, cid: str) -> str:
    return f"dcp{cid}{zone_id}" if cid else f"dcpub{zone_id}"


def router_key(cid: str, network_id: int, state_dir: str | Path) -> str:
    """The router's provider key ([a-z0-9]{1,10}). Legacy clouds salted the network id with their state dir."""
    if not cid:
        salt = hashlib.sha1(str(Path(state_dir).resolve()).encode()).hexdigest()[:3]
        return f"{salt}{network_id}"[:10]
    return f"{cid}{_to36(network_id)}"  # 5 + at most 5 base-36 digits


def appliance_key(cid: str, kind: str, row_id: int, legacy_seed: str) -> str:
    """The provider key of an appliance other than a network's router: ``kind`` is one letter (``v`` a VPC's router,
    ``b`` an internal load balancer). After the cloud id comes ``0``, which a network router's key never has there
    (base-36 ids have no leading zero), so the two kinds of keys never meet in the host's ``dcr-`` namespaces.
    A legacy cloud salts the row id with ``legacy_seed`` (its state dir, or the appliance's uuid)."""
    if not cid:
        salt = hashlib.sha1(legacy_seed.encode()).hexdigest()[:3]
        return f"{salt}{kind}{row_id}"[:10]
    key = f"{cid}0{kind}{_to36(row_id)}"  # 5 + 2 + at most 3 base-36 digits
    if len(key) > 10:
        raise ValueError(f"{kind} appliance id {row_id} is beyond this cloud's {36 ** 3 - 1} ({key!r} > 10 chars)")
    return key


def _to36(n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 36)
        digits = (string.digits + string.ascii_lowercase)[r] + digits
        if n == 0:
            return digits


def sg_table(cid: str) -> str:
    return f"{LEGACY_SG_TABLE}_{cid}" if cid else LEGACY_SG_TABLE
