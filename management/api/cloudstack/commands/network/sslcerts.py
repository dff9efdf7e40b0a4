"""SSL certificates: uploadSslCert, listSslCerts, deleteSslCert, assignCertToLoadBalancer and
removeCertFromLoadBalancer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_tenancy import SslCertResp
from management.db.base import utcnow
from management.errors import ParamError, ResourceInUse
from management.models.certs import LoadBalancerCertMap, SslCert
from management.models.identity import Account, Domain
from management.models.rules import NetworkRule
from management.services import access
from management.services.context import CallContext
from management.services.network import certs as svc
from management.services.network import routers

access.register_entity("SslCert", SslCert, "owned")


def cert_resp(ctx: CallContext, c: SslCert) -> SslCertResp:
    a = ctx.session.get_one(Account, c.account_id)
    d = ctx.session.get_one(Domain, c.domain_id)
    rules = ctx.session.scalars(select(NetworkRule.uuid).join(
        LoadBalancerCertMap, LoadBalancerCertMap.load_balancer_id == NetworkRule.id).where(
        LoadBalancerCertMap.certificate_id == c.id, NetworkRule.removed.is_(None)))
    return SslCertResp(id=c.uuid, name=c.name, certificate=c.certificate, certchain=c.chain,
                       fingerprint=c.fingerprint, account=a.name, domainid=d.uuid, domain=d.name,
                       loadbalancerrulelist=list(rules))


class UploadSslCertParams(Params):
    certificate: Annotated[str, ParamInfo(length=16384)] = Field(description="SSL certificate")
    privatekey: Annotated[str, ParamInfo(length=16384)] = Field(description="Private key")
    name: str = Field(description="Name for the uploaded certificate")
    certchain: Annotated[str | None, ParamInfo(length=2097152)] = Field(None, description="Certificate chain of trust")
    password: str | None = Field(None, description="Password for the private key")
    account: str | None = Field(None, description="account that will own the SSL certificate")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="domain ID of the account "
                                                                   "owning the SSL certificate")
    projectid: Uuid | None = Field(None, description="an optional project for the SSL certificate")
    enabledrevocationcheck: bool = Field(True, description="Enables revocation checking for certificates")


@api_command("uploadSslCert", params=UploadSslCertParams, result_key="sslcert", response=SslCertResp,
             event="LB.CERT.UPLOAD", entity="SslCert", description="Upload a certificate to CloudStack")
def upload_ssl_cert(ctx: CallContext, p: UploadSslCertParams) -> SslCertResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid, p.projectid)
    fingerprint = svc.check(p.certificate, p.privatekey, p.certchain, p.password)
    if ctx.session.scalar(select(SslCert.id).where(SslCert.account_id == owner.id, SslCert.removed.is_(None),
                                                   func.lower(SslCert.name) == p.name.lower())) is not None:
        raise ParamError(f"A certificate with name {p.name} already exists for this account")
    c = SslCert(name=p.name, account_id=owner.id, domain_id=owner.domain_id, certificate=p.certificate.strip(),
                private_key=svc.unencrypted_key(p.privatekey, p.password), chain=p.certchain,
                fingerprint=fingerprint)
    ctx.session.add(c)
    ctx.session.flush()
    return cert_resp(ctx, c)


class ListSslCertsParams(Params):
    certid: Annotated[str | None, Ref("SslCert", "read")] = Field(None, description="ID of SSL certificate")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="Account ID")
    lbruleid: Annotated[str | None, Ref("LoadBalancerRule", "read")] = Field(None, description="Load balancer "
                                                                             "rule ID")
    projectid: Uuid | None = Field(None, description="Project that owns the SSL certificate")


@api_command("listSslCerts", params=ListSslCertsParams, result_key="sslcert", response=SslCertResp,
             description="Lists SSL certificates")
def list_ssl_certs(ctx: CallContext, p: ListSslCertsParams) -> ListResult:
    stmt = select(SslCert).where(SslCert.removed.is_(None))
    if p.certid:
        stmt = stmt.where(SslCert.id == ctx.refs["certid"].id)
    elif p.lbruleid:
        stmt = stmt.where(SslCert.id.in_(select(LoadBalancerCertMap.certificate_id).where(
            LoadBalancerCertMap.load_balancer_id == ctx.refs["lbruleid"].id)))
    elif p.accountid:
        stmt = stmt.where(SslCert.account_id == ctx.refs["accountid"].id)
    else:
        stmt = access.owned_filter(ctx.session, stmt, SslCert, ctx.caller, projectid=p.projectid)
    rows = list(ctx.session.scalars(stmt.order_by(SslCert.id)))
    return ListResult([cert_resp(ctx, c) for c in rows], len(rows))


class CertIdParams(Params):
    id: Annotated[str, Ref("SslCert")] = Field(description="Id of SSL certificate")


@api_command("deleteSslCert", params=CertIdParams, event="LB.CERT.DELETE", entity="SslCert",
             description="Delete a certificate to CloudStack")
def delete_ssl_cert(ctx: CallContext, p: CertIdParams) -> Success:
    c: SslCert = ctx.refs["id"]
    if ctx.session.scalar(select(LoadBalancerCertMap.id).where(LoadBalancerCertMap.certificate_id == c.id).limit(1)):
        raise ResourceInUse("Certificate in use by a loadbalancer(s)", uuids=[c.uuid])
    c.removed = utcnow()
    return Success()


class AssignCertParams(Params):
    lbruleid: Annotated[str, Ref("LoadBalancerRule")] = Field(description="the ID of the load balancer rule")
    certid: Annotated[str, Ref("SslCert", "read")] = Field(description="the ID of the certificate")
    forced: bool = Field(False, description="Force assign the certificate. If there is a certificate bound to the "
                         "LB, it will be removed first.")


@api_command("assignCertToLoadBalancer", params=AssignCertParams, is_async=True, event="LB.CERT.ASSIGN",
             entity="LoadBalancerRule", description="Assigns a certificate to a load balancer rule")
def assign_cert(ctx: CallContext, p: AssignCertParams) -> Success:
    rule: NetworkRule = ctx.refs["lbruleid"]
    cert: SslCert = ctx.refs["certid"]
    if rule.protocol != "ssl":
        raise ParamError(f"Can't assign a certificate to load balancer rule {rule.uuid}: its protocol is "
                         f"{rule.protocol}, not ssl")
    bound = ctx.session.scalar(select(LoadBalancerCertMap).where(LoadBalancerCertMap.load_balancer_id == rule.id))
    if bound is not None:
        if not p.forced:
            raise ParamError(f"Rule id: {rule.uuid} is already bound to a certificate")
        ctx.session.delete(bound)
        ctx.session.flush()
    ctx.session.add(LoadBalancerCertMap(load_balancer_id=rule.id, certificate_id=cert.id))
    ctx.session.flush()
    routers.network_changed(ctx.session, rule.network_id)
    return Success()


class RemoveCertParams(Params):
    lbruleid: Annotated[str, Ref("LoadBalancerRule")] = Field(description="the ID of the load balancer rule")


@api_command("removeCertFromLoadBalancer", params=RemoveCertParams, is_async=True, event="LB.CERT.REMOVE",
             entity="LoadBalancerRule", description="Removes a certificate from a load balancer rule")
def remove_cert(ctx: CallContext, p: RemoveCertParams) -> Success:
    rule: NetworkRule = ctx.refs["lbruleid"]
    bound = ctx.session.scalar(select(LoadBalancerCertMap).where(LoadBalancerCertMap.load_balancer_id == rule.id))
    if bound is None:
        raise ParamError(f"No certificate is bound to load balancer rule {rule.uuid}")
    ctx.session.delete(bound)
    ctx.session.flush()
    routers.network_changed(ctx.session, rule.network_id)
    return Success()
