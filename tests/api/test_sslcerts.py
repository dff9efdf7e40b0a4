"""SSL certificates through the API: upload (checked: the key must match), list, bind to an ssl load balancer rule
(the router spec then carries the PEM haproxy serves; tests/integration/test_vr_router.py serves it for real),
unbind, delete; errors as CloudStack words them."""

from __future__ import annotations

from typing import Any

import pytest

from management.network.testing import self_signed_pem
from tests.api.test_rules import _setup

pytestmark = pytest.mark.api


def test_upload_assign_remove_delete(server: Any) -> None:
    from sqlalchemy import select

    from management.models.network import Network
    from management.services.network import routers

    api = server.api
    env = _setup(server)
    cert, key = self_signed_pem("shop.example")
    other_cert, _ = self_signed_pem("other.example")
    status, err = api.error("uploadSslCert", name="bad", certificate=other_cert, privatekey=key)
    assert status == 431 and err["errortext"] == "Bad public-private key pair"
    assert api.error("uploadSslCert", name="junk", certificate="not a cert", privatekey=key)[0] == 431
    up = api("uploadSslCert", name="shop", certificate=cert, privatekey=key)["sslcert"]
    assert up["name"] == "shop" and up["certificate"] == cert.strip() and len(up["fingerprint"].split(":")) == 20
    assert "privatekey" not in up and up["account"] == "admin"
    assert [c["id"] for c in api("listSslCerts")["sslcert"]] == [up["id"]]

    tcp = api.run("createLoadBalancerRule", publicipid=env["snat"]["id"], name="plain", algorithm="roundrobin",
                  publicport=80, privateport=8080)["loadbalancer"]
    job = api.wait(api("assignCertToLoadBalancer", lbruleid=tcp["id"], certid=up["id"])["jobid"])
    assert job["jobstatus"] == 2 and "not ssl" in job["jobresult"]["errortext"]
    lb = api.run("createLoadBalancerRule", publicipid=env["snat"]["id"], name="tls", algorithm="roundrobin",
                 publicport=443, privateport=8080, protocol="ssl")["loadbalancer"]
    assert lb["protocol"] == "ssl"
    api.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=env["vms"][0])
    api.run("assignCertToLoadBalancer", lbruleid=lb["id"], certid=up["id"])
    assert api("listSslCerts", lbruleid=lb["id"])["sslcert"][0]["loadbalancerrulelist"] == [lb["id"]]
    with server.server.runtime.db.session(write=False) as s:
        net = s.scalar(select(Network).where(Network.uuid == env["net"]["id"]))
        spec = routers.build_spec(s, net, "k")
    tls = next(x for x in spec.load_balancers if x.public_port == 443)
    assert tls.ssl_pem is not None and cert.strip() in tls.ssl_pem and key.strip() in tls.ssl_pem
    job = api.wait(api("assignCertToLoadBalancer", lbruleid=lb["id"], certid=up["id"])["jobid"])
    assert job["jobstatus"] == 2 and "already bound" in job["jobresult"]["errortext"]
    status, err = api.error("deleteSslCert", id=up["id"])
    assert status == 536 and err["errortext"] == "Certificate in use by a loadbalancer(s)"
    api.run("removeCertFromLoadBalancer", lbruleid=lb["id"])
    assert api("deleteSslCert", id=up["id"])["success"] is True
    assert api("listSslCerts") == {}
    stranger = api.client_for(api.new_account())
    assert stranger.error("listSslCerts", lbruleid=lb["id"])[0] == 531
