"""Templates: prepareTemplate (the template copied onto primary storage now, as a deploy would), and the
direct-download certificates (uploadTemplateDirectDownloadCertificate, listTemplateDirectDownloadCertificates,
revokeTemplateDirectDownloadCertificate, provisionTemplateDirectDownloadCertificate).

Certificates are parsed, stored and listed with their hosts. Provisioning means: the certificate is trusted for
the host's template downloads. This server's KVM hosts never download templates themselves (the management server
downloads into the image store and copies to the pools through libvirt), so a host is marked provisioned and the
details say so; there is no keystore to write on them."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from cryptography import x509
from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.storage.templates import template_resp
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_storage import (
    DirectDownloadCertificateHostStatusResp,
    DirectDownloadCertificateResp,
)
from management.api.cloudstack.schemas_templates import TemplateResp
from management.db.base import utcnow
from management.drivers.errors import DriverError
from management.errors import InternalError, ParamError
from management.models.infra import Host, StoragePool, Zone
from management.models.storage import Template, TemplatePoolRef
from management.models.storage_admin import DirectDownloadCertificate, DirectDownloadCertificateHost
from management.services import access
from management.services.context import CallContext
from management.services.hypervisors import driver_for, hosts_with_pool
from management.services.infra.hosts import pool_spec
from management.services.listing import paginate
from management.services.storage import templates as templates_service

access.register_entity("DirectDownloadCertificate", DirectDownloadCertificate, "public", soft_delete=False)

PROVISIONED = ("Certificate kept by the management server: this server's hosts download templates through it, "
               "so they trust it from now on")


# ------------------------------------------------------------------------------------------------ prepare

class PrepareTemplateParams(Params):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="zone ID of the template to be prepared in "
                                                        "primary storage(s).")
    templateid: Annotated[str, Ref("Template", "read")] = Field(description="template ID of the template to be "
                                                                "prepared in primary storage(s).")
    storageid: Annotated[str | None, Ref("StoragePool", "read")] = Field(
        None, description="storage pool ID of the primary storage pool to which the template should be prepared. "
        "If it is not provided the template is prepared on all the available primary storage pools.")


@api_command("prepareTemplate", params=PrepareTemplateParams, result_key="template", response=TemplateResp,
             roles=ADMIN, event="TEMPLATE.PREPARE", entity="Template",
             description="load template into primary storage")
def prepare_template(ctx: CallContext, p: PrepareTemplateParams) -> ListResult:
    s = ctx.session
    zone: Zone = ctx.refs["zoneid"]
    t: Template = ctx.refs["templateid"]
    pool = ctx.refs.get("storageid")
    pools = [pool] if pool is not None else list(s.scalars(select(StoragePool).where(
        StoragePool.zone_id == zone.id, StoragePool.removed.is_(None), StoragePool.status == "Up")))
    if pool is not None and pool.zone_id != zone.id:
        raise ParamError(f"Storage pool {pool.uuid} is not in zone {zone.uuid}")
    t_uuid, source = templates_service.source_for_pool(s, t, zone)
    done = 0
    for sp in pools:
        for host in hosts_with_pool(s, sp):
            if host.status != "Up":
                continue
            try:
                d = driver_for(ctx.runtime, host)
                d.ensure_pool(pool_spec(sp))
                info = d.prepare_template(sp.uuid, t_uuid, source)
            except DriverError:
                continue
            ref = s.scalar(select(TemplatePoolRef).where(TemplatePoolRef.template_id == t.id,
                                                         TemplatePoolRef.pool_id == sp.id))
            if ref is None:
                s.add(TemplatePoolRef(template_id=t.id, pool_id=sp.id, install_path=info.path,
                                      size=info.size_bytes, created=utcnow()))
            done += 1
            break
    if not done:
        raise InternalError(f"Unable to prepare template {t.uuid}: no host in zone {zone.name} reaches a primary "
                            "storage pool")
    s.flush()
    # CloudStack answers with a list of the template's responses (count and a one-item list)
    return ListResult([template_resp(ctx, t, templates_service.ready_ref(s, t, zone.id))], 1)


# ------------------------------------------------------------------------------------------------ certificates

def _pem(text: str) -> str:
    body = text.strip()
    if "BEGIN CERTIFICATE" not in body:
        body = "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----"
    return body + "\n"


def _parse(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise ParamError(f"Error parsing certificate data: {exc}") from None


def _hosts(ctx: CallContext, zone_id: int, hypervisor: str, host: Host | None) -> list[Host]:
    if host is not None:
        return [host]
    return list(ctx.session.scalars(select(Host).where(Host.zone_id == zone_id, Host.removed.is_(None),
                                                       Host.type == "Routing",
                                                       Host.hypervisor_type.ilike(hypervisor))
                                    .order_by(Host.id)).unique())


def _status(h: Host, ok: bool, details: str) -> DirectDownloadCertificateHostStatusResp:
    return DirectDownloadCertificateHostStatusResp(hostid=h.uuid, hostname=h.name, status=ok, details=details)


def _provision(ctx: CallContext, cert: DirectDownloadCertificate, host: Host) -> \
        DirectDownloadCertificateHostStatusResp:
    if host.status != "Up":
        return _status(host, False, f"Host {host.name} is {host.status}; the certificate was not provisioned")
    row = ctx.session.scalar(select(DirectDownloadCertificateHost).where(
        DirectDownloadCertificateHost.certificate_id == cert.id, DirectDownloadCertificateHost.host_id == host.id))
    if row is None:
        row = DirectDownloadCertificateHost(certificate_id=cert.id, host_id=host.id)
        ctx.session.add(row)
    row.revoked, row.provisioned = False, utcnow()
    return _status(host, True, PROVISIONED)


def cert_resp(ctx: CallContext, c: DirectDownloadCertificate, *, hosts: bool = False) -> \
        DirectDownloadCertificateResp:
    zone = ctx.session.get_one(Zone, c.zone_id)
    parsed = None
    with contextlib.suppress(ParamError):
        parsed = _parse(c.certificate)
    hostsmap = None
    if hosts:
        rows = ctx.session.scalars(select(DirectDownloadCertificateHost).where(
            DirectDownloadCertificateHost.certificate_id == c.id))
        hostsmap = []
        for r in rows:
            h = ctx.session.get(Host, r.host_id)
            if h is not None:
                hostsmap.append({"hostid": h.uuid, "hostname": h.name, "revoked": r.revoked})
    return DirectDownloadCertificateResp(
        id=c.uuid, alias=c.alias, zoneid=zone.uuid, zonename=zone.name, hypervisor=c.hypervisor_type,
        version=f"v{parsed.version.value + 1}" if parsed else None,
        subject=parsed.subject.rfc4514_string() if parsed else None,
        issuer=parsed.issuer.rfc4514_string() if parsed else None,
        validity=f"From: {parsed.not_valid_before_utc} - To: {parsed.not_valid_after_utc}" if parsed else None,
        serialnum=str(parsed.serial_number) if parsed else None, hostsmap=hostsmap)


class UploadCertParams(Params):
    certificate: Annotated[str, ParamInfo(length=65535)] = Field(description="SSL certificate")
    name: str = Field(description="Name for the uploaded certificate")
    hypervisor: str = Field(description="Hypervisor type")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="Zone to upload certificate")
    hostid: Annotated[str | None, Ref("Host")] = Field(None, description="(optional) the host ID to upload "
                                                       "certificate")


@api_command("uploadTemplateDirectDownloadCertificate", params=UploadCertParams,
             result_key="directdownloadcertificate", response=DirectDownloadCertificateResp, roles=ADMIN,
             event="CERTIFICATE.UPLOAD", since="4.11.0",
             description="Upload a certificate for HTTPS direct template download on KVM hosts")
def upload_certificate(ctx: CallContext, p: UploadCertParams) -> DirectDownloadCertificateResp:
    if p.hypervisor.upper() != "KVM":
        raise ParamError("Currently supporting KVM hosts only")
    pem = _pem(p.certificate)
    _parse(pem)
    zone: Zone = ctx.refs["zoneid"]
    if ctx.session.scalar(select(DirectDownloadCertificate.id).where(
            DirectDownloadCertificate.alias == p.name, DirectDownloadCertificate.zone_id == zone.id,
            DirectDownloadCertificate.hypervisor_type == "KVM")):
        raise ParamError(f"Certificate with alias {p.name} already exists in zone {zone.name}")
    cert = DirectDownloadCertificate(alias=p.name, certificate=pem, hypervisor_type="KVM", zone_id=zone.id)
    ctx.session.add(cert)
    ctx.session.flush()
    for h in _hosts(ctx, zone.id, "KVM", ctx.refs.get("hostid")):
        _provision(ctx, cert, h)
    ctx.session.flush()
    return cert_resp(ctx, cert, hosts=True)


class ListCertsParams(ListParams):
    id: Annotated[str | None, Ref("DirectDownloadCertificate", "read")] = Field(
        None, description="list direct download certificate by ID")
    zoneid: Annotated[str | None, Ref("Zone", "read")] = Field(None, description="the zone where certificates are "
                                                               "uploaded")
    listhosts: bool = Field(False, description="if set to true: include the hosts where the certificate is "
                            "uploaded to")


@api_command("listTemplateDirectDownloadCertificates", params=ListCertsParams,
             result_key="directdownloadcertificate", response=DirectDownloadCertificateResp, roles=ADMIN,
             since="4.17.0", description="List the uploaded certificates for direct download templates")
def list_certificates(ctx: CallContext, p: ListCertsParams) -> ListResult:
    stmt = select(DirectDownloadCertificate)
    if p.id:
        stmt = stmt.where(DirectDownloadCertificate.uuid == p.id)
    if p.zoneid:
        stmt = stmt.where(DirectDownloadCertificate.zone_id == ctx.refs["zoneid"].id)
    if p.keyword:
        stmt = stmt.where(DirectDownloadCertificate.alias.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, DirectDownloadCertificate.id)
    return ListResult([cert_resp(ctx, c, hosts=p.listhosts) for c in rows], count)


class RevokeCertParams(Params):
    id: Annotated[str | None, Ref("DirectDownloadCertificate")] = Field(
        None, description="id of the certificate")
    name: str | None = Field(None, description="(optional) alias of the SSL certificate")
    hypervisor: str | None = Field(None, description="(optional) hypervisor type")
    zoneid: Annotated[str, Ref("Zone")] = Field(description="(optional) zone to revoke certificate")
    hostid: Annotated[str | None, Ref("Host")] = Field(None, description="(optional) the host ID to revoke "
                                                       "certificate")


@api_command("revokeTemplateDirectDownloadCertificate", params=RevokeCertParams,
             result_key="directdownloadcertificatehoststatus", response=DirectDownloadCertificateHostStatusResp,
             roles=ADMIN, event="CERTIFICATE.REVOKE", since="4.13",
             description="Revoke a direct download certificate from hosts in a zone")
def revoke_certificate(ctx: CallContext, p: RevokeCertParams) -> ListResult:
    zone: Zone = ctx.refs["zoneid"]
    cert: DirectDownloadCertificate | None = ctx.refs.get("id")
    if cert is None:
        if not p.name or not p.hypervisor:
            raise ParamError("Please specify the certificate id or the certificate name and hypervisor type")
        cert = ctx.session.scalar(select(DirectDownloadCertificate).where(
            DirectDownloadCertificate.alias == p.name, DirectDownloadCertificate.zone_id == zone.id,
            DirectDownloadCertificate.hypervisor_type.ilike(p.hypervisor)))
        if cert is None:
            raise ParamError(f"Certificate with alias {p.name} and hypervisor {p.hypervisor} not found in zone "
                             f"{zone.name}")
    out: list[Any] = []
    rows = ctx.session.scalars(select(DirectDownloadCertificateHost).where(
        DirectDownloadCertificateHost.certificate_id == cert.id, DirectDownloadCertificateHost.revoked.is_(False)))
    host = ctx.refs.get("hostid")
    for r in rows:
        h = ctx.session.get(Host, r.host_id)
        if h is None or (host is not None and h.id != host.id):
            continue
        r.revoked = True
        out.append(_status(h, True, "Certificate revoked: the host no longer trusts it for template downloads"))
    return ListResult(out, len(out))


class ProvisionCertParams(Params):
    id: Annotated[str, Ref("DirectDownloadCertificate")] = Field(description="the id of the certificate")
    hostid: Annotated[str, Ref("Host")] = Field(description="the host to provision the certificate")


@api_command("provisionTemplateDirectDownloadCertificate", params=ProvisionCertParams,
             result_key="directdownloadcertificatehoststatus", response=DirectDownloadCertificateHostStatusResp,
             roles=ADMIN, event="CERTIFICATE.UPLOAD", since="4.17.0",
             description="Provisions a direct download certificate on a host")
def provision_certificate(ctx: CallContext, p: ProvisionCertParams) -> DirectDownloadCertificateHostStatusResp:
    cert: DirectDownloadCertificate = ctx.refs["id"]
    host: Host = ctx.refs["hostid"]
    if host.zone_id != cert.zone_id or host.hypervisor_type.upper() != cert.hypervisor_type.upper():
        raise ParamError(f"Host {host.name} is not a {cert.hypervisor_type} host of the certificate's zone")
    return _provision(ctx, cert, host)
