"""Security groups for Basic zones: per-NIC nftables rules on the host bridge (bridge family table ``devcloud_sg``,
``devcloud_sg_<cloud id>`` per cloud: services/naming.py).

CloudStack semantics: ingress to a VM is denied unless a rule allows it; egress is allowed while the NIC has no
egress rule and restricted to the listed ones as soon as one exists. A rule names a protocol, a port range or ICMP
type/code, and sources (ingress) / destinations (egress) as CIDRs and/or the member IPs of another security group
(the services layer resolves group membership into ``member_ips``). Anti-spoofing: frames from the NIC must carry its
MAC, IPv4 packets and ARP one of its IPs (DHCP discovery from 0.0.0.0 excepted), and it may not act as a DHCP server.

Layout: two verdict maps keyed by the NIC's bridge port (``from_vm``/``to_vm``) dispatch to per-NIC chains
``o_<dev>``/``i_<dev>``, so applying or removing one NIC is one atomic ``nft -f`` transaction touching only its chains
and map elements. Stateful replies use conntrack, which br_netfilter provides for bridged IPv4 on this host.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from management.network.host import run
from management.network.provider import IFNAME_RE, MAC_RE, PROTOS, PortRange, ProviderError, SpecError

TABLE = "devcloud_sg"
CT_MARK = "0x00400000"  # set on packets of established flows by the ip-family helper table (see ct_lines)


@dataclass(frozen=True)
class SgRule:
    protocol: str = "all"                    # tcp | udp | icmp | all
    ports: PortRange | None = None
    icmp_type: int | None = None              # None or -1 = any
    icmp_code: int | None = None
    cidrs: tuple[str, ...] = ()
    member_ips: tuple[str, ...] = ()          # IPs of the members of the referenced security group(s)


@dataclass(frozen=True)
class NicSecurity:
    device: str                               # the NIC's port on the bridge (tap / host veth end)
    mac: str
    ips: tuple[str, ...]
    ingress: tuple[SgRule, ...] = ()
    egress: tuple[SgRule, ...] = ()

    def validate(self) -> NicSecurity:
        if not IFNAME_RE.match(self.device):
            raise SpecError(f"device: {self.device!r} is not an interface name")
        if not MAC_RE.match(self.mac):
            raise SpecError(f"mac: {self.mac!r} is not a lower-case MAC address")
        if not self.ips:
            raise SpecError("ips: a NIC needs at least one IPv4 address")
        for ip in self.ips:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise SpecError(f"ips: {ip!r} is not an IPv4 address") from None
        for kind, rules in (("ingress", self.ingress), ("egress", self.egress)):
            for i, r in enumerate(rules):
                what = f"{kind}[{i}]"
                if r.protocol not in PROTOS:
                    raise SpecError(f"{what}: unknown protocol {r.protocol!r}")
                if r.ports is not None and (r.protocol not in ("tcp", "udp") or not
                                            1 <= r.ports.start <= r.ports.last <= 65535):
                    raise SpecError(f"{what}: invalid ports for {r.protocol}")
                for c in r.cidrs:
                    try:
                        ipaddress.IPv4Network(c, strict=False)
                    except ValueError:
                        raise SpecError(f"{what}: {c!r} is not an IPv4 CIDR") from None
                for ip in r.member_ips:
                    try:
                        ipaddress.IPv4Address(ip)
                    except ValueError:
                        raise SpecError(f"{what}: member {ip!r} is not an IPv4 address") from None
        return self


def chain_suffix(device: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", device)
    return f"{clean}_{hashlib.sha1(device.encode()).hexdigest()[:6]}"


def _set(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _match(r: SgRule, field: str) -> list[str]:
    """nft match expressions for one rule (several when it has both CIDRs and members; none = matches nothing)."""
    peers = [str(ipaddress.IPv4Network(c, strict=False)) for c in r.cidrs] + list(r.member_ips)
    if not peers:
        return []
    peer = "" if "0.0.0.0/0" in peers else f"ip {field} {_set(sorted(set(peers)))} "
    if r.protocol in ("tcp", "udp"):
        proto = f"meta l4proto {r.protocol} " + (f"th dport {r.ports.nft()} " if r.ports else "")
    elif r.protocol == "icmp":
        proto = "meta l4proto icmp "
        if r.icmp_type is not None and r.icmp_type >= 0:
            proto += f"icmp type {r.icmp_type} "
            if r.icmp_code is not None and r.icmp_code >= 0:
                proto += f"icmp code {r.icmp_code} "
    else:
        proto = "ether type ip " if not peer else ""
    return [f"{peer}{proto}accept"]


def base_lines(table: str = TABLE) -> list[str]:
    t = f"bridge {table}"
    return [
        f"add table {t}",
        f"add map {t} from_vm {{ type ifname : verdict ; }}",
        f"add map {t} to_vm {{ type ifname : verdict ; }}",
        f"add chain {t} forward {{ type filter hook forward priority 0 ; policy accept ; }}",
        f"add chain {t} input {{ type filter hook input priority 0 ; policy accept ; }}",
        f"flush chain {t} forward",
        f"add rule {t} forward iifname vmap @from_vm",
        f"add rule {t} forward oifname vmap @to_vm",
        f"flush chain {t} input",
        f"add rule {t} input iifname vmap @from_vm",
    ]


def ct_lines(bridge: str, table: str = TABLE) -> list[str]:
    """Conntrack for bridged IPv4: the bridge family has no ``ct`` on this kernel (no nf_conntrack_bridge), but
    br_netfilter runs the IPv4 prerouting hooks for bridged frames, where ``ct state`` works. This helper table
    (family ip, same name) marks packets of established/related flows arriving on security-group bridges; the
    per-NIC bridge chains accept on that mark."""
    t = f"ip {table}"
    return [
        f"add table {t}",
        f"add set {t} bridges {{ type ifname ; }}",
        f"add chain {t} prerouting {{ type filter hook prerouting priority -150 ; policy accept ; }}",
        f"flush chain {t} prerouting",
        f"add rule {t} prerouting iifname @bridges ct state established,related meta mark set meta mark | {CT_MARK}",
        f'add element {t} bridges {{ "{bridge}" }}',
    ]


def render_nic(nic: NicSecurity, bridge: str, table: str = TABLE) -> str:
    """The nft transaction that (re)installs one NIC's chains and map entries."""
    t = f"bridge {table}"
    sfx = chain_suffix(nic.device)
    out_c, in_c = f"o_{sfx}", f"i_{sfx}"
    ips = _set(sorted(nic.ips))
    arp_ips = _set(sorted(set(nic.ips) | {"0.0.0.0"}))
    egress = [m for r in nic.egress for m in _match(r, "daddr")]
    ingress = [m for r in nic.ingress for m in _match(r, "saddr")]
    out_rules = [
        f"ether saddr != {nic.mac} drop",
        f"ether type arp arp saddr ether != {nic.mac} drop",
        f"ether type arp arp saddr ip != {arp_ips} drop",
        "ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
        f"ether type ip ip saddr != {ips} drop",
        "ether type ip udp sport 67 drop",
        "ether type ip6 drop",
        f"meta mark & {CT_MARK} == {CT_MARK} accept",
        *egress,
        *(["ether type ip drop"] if nic.egress else []),
    ]
    in_rules = [
        f"meta mark & {CT_MARK} == {CT_MARK} accept",
        "ether type ip udp sport 67 udp dport 68 accept",
        *ingress,
        "ether type ip drop",
        "ether type ip6 drop",
    ]
    lines = [f"# security groups for {nic.device} ({nic.mac} {' '.join(nic.ips)}) on {bridge}",
             *ct_lines(bridge, table), *base_lines(table)]
    for chain, rules in ((out_c, out_rules), (in_c, in_rules)):
        lines += [f"add chain {t} {chain}", f"flush chain {t} {chain}"]
        lines += [f"add rule {t} {chain} {r}" for r in rules]
    lines += [f'add element {t} from_vm {{ "{nic.device}" : jump {out_c} }}',
              f'add element {t} to_vm {{ "{nic.device}" : jump {in_c} }}']
    return "\n".join(lines) + "\n"


def render_remove(device: str, table: str = TABLE) -> str:
    t = f"bridge {table}"
    sfx = chain_suffix(device)
    return "\n".join([
        f'delete element {t} from_vm {{ "{device}" }}',
        f'delete element {t} to_vm {{ "{device}" }}',
        f"delete chain {t} o_{sfx}",
        f"delete chain {t} i_{sfx}",
    ]) + "\n"


class SecurityGroupEnforcer:
    """Applies ``NicSecurity`` specs idempotently in nftables tables named ``table`` (one per cloud); remembers what
    it applied under ``<state_dir>/sg/``."""

    def __init__(self, state_dir: str | Path, table: str = TABLE) -> None:
        self.table = table
        self.dir = Path(state_dir) / "sg"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _file(self, device: str) -> Path:
        return self.dir / f"{device}.nft"

    def _chain_exists(self, device: str) -> bool:
        proc = run(["nft", "list", "chain", "bridge", self.table, f"o_{chain_suffix(device)}"], check=False)
        return proc.returncode == 0

    def apply(self, nic: NicSecurity) -> bool:
        """Install/update the NIC's rules; False when they were already in place (nothing touched)."""
        nic.validate()
        master = Path(f"/sys/class/net/{nic.device}/master")
        if not master.exists():
            raise ProviderError(f"{nic.device} is not a bridge port")
        text = render_nic(nic, master.resolve().name, self.table)
        f = self._file(nic.device)
        try:
            same = f.read_text() == text
        except OSError:
            same = False
        if same and self._chain_exists(nic.device):
            return False
        self.prune()
        run(["nft", "-f", "-"], input=text)
        f.write_text(text)
        return True

    def remove(self, device: str) -> bool:
        """Remove the NIC's rules; False when there were none."""
        self._file(device).unlink(missing_ok=True)
        if not self._chain_exists(device):
            return False
        run(["nft", "-f", "-"], input=render_remove(device, self.table))
        if not self.devices():  # the last NIC: leave no tables behind
            self.remove_all()
        return True

    def prune(self) -> list[str]:
        """Drop the rules of devices gone from the host (a VM that died with its server down, a killed server):
        a name left in the table would filter whichever NIC the host later gives that name."""
        gone = [d for d in self.devices() if not Path(f"/sys/class/net/{d}").exists()]
        for dev in gone:
            self.remove(dev)
        return gone

    def devices(self) -> list[str]:
        proc = run(["nft", "-j", "list", "map", "bridge", self.table, "from_vm"], check=False)
        if proc.returncode != 0:
            return []
        out = []
        for obj in json.loads(proc.stdout).get("nftables", []):
            for el in (obj.get("map") or {}).get("elem", []) or []:
                out.append(el[0] if isinstance(el, list) else el)
        return sorted(out)

    def remove_all(self) -> None:
        """Drop the whole table (tests, host decommission)."""
        run(["nft", "delete", "table", "bridge", self.table], check=False)
        run(["nft", "delete", "table", "ip", self.table], check=False)
        for f in self.dir.glob("*.nft"):
            f.unlink()
