"""Response builders shared by the BGP commands and the network response."""

from __future__ import annotations

import json

from management.api.cloudstack.schemas_routing import BgpPeerResp
from management.models.identity import Account, Domain
from management.models.infra import Zone
from management.models.routing import BgpPeer
from management.services.context import CallContext


def peer_resp(ctx: CallContext, b: BgpPeer) -> BgpPeerResp:
    s = ctx.session
    zone = s.get(Zone, b.zone_id)
    acct = s.get(Account, b.account_id) if b.account_id else None
    dom = s.get(Domain, b.domain_id) if b.domain_id else None
    details = json.loads(b.details_json) if b.details_json else None
    return BgpPeerResp(id=b.uuid, ipaddress=b.ip4_address, ip6address=b.ip6_address, asnumber=b.as_number,
                       password=b.password, zoneid=zone.uuid if zone else None, zonename=zone.name if zone else None,
                       created=b.created, account=acct.name if acct else None, domainid=dom.uuid if dom else None,
                       domain=dom.name if dom else None, details=details or None)
