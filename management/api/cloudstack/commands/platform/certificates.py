"""Certificates: the CA framework (listCAProviders, listCaCertificate, issueCertificate, revokeCertificate,
provisionCertificate) with the root CA provider, and uploadCustomCertificate."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ALL_ROLES, ParamInfo, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.errors import ResourceUnavailable
from management.services import certificates
from management.services.context import CallContext

_LONG = ParamInfo(length=65535)


class CAProviderResp(JobResp):
    name: str = Field(description="the CA service provider name")
    description: str = Field(description="the description of the CA service provider")


class ListCAProvidersParams(Params):
    name: str | None = Field(None, description="List CA service provider by name")


@api_command("listCAProviders", params=ListCAProvidersParams, result_key="caprovider", response=CAProviderResp,
             roles=ADMIN, since="4.11.0", description="Lists available certificate authority providers in "
             "CloudStack")
def list_ca_providers(ctx: CallContext, p: ListCAProvidersParams) -> ListResult:
    items = [CAProviderResp(name=n, description=d) for n, d in certificates.PROVIDERS.items()
             if p.name is None or p.name.lower() == n]
    return ListResult(items, len(items))


class CertificateResp(JobResp):
    certificate: str | None = Field(None, description="The client certificate")
    privatekey: str | None = Field(None, description="Private key for the certificate")
    cacertificates: str | None = Field(None, description="The CA certificate(s)")


class ProviderParams(Params):
    provider: str | None = Field(None, description="Name of the CA service provider, otherwise the default "
                                 "configured provider plugin will be used")


@api_command("listCaCertificate", params=ProviderParams, result_key="cacertificates", response=CertificateResp,
             roles=ALL_ROLES, since="4.11.0", description="Lists the CA public certificate(s) as support by the "
             "configured/provided CA plugin")
def list_ca_certificate(ctx: CallContext, p: ProviderParams) -> CertificateResp:
    certificates.provider(ctx.session, p.provider)
    return CertificateResp(cacertificates=certificates.published_ca_pem(ctx.session, ctx.runtime.db))


class IssueCertificateParams(ProviderParams):
    csr: Annotated[str | None, _LONG] = Field(None, description="The certificate signing request (in pem format), "
                                              "if CSR is not provided then configured/provided options are "
                                              "considered")
    domain: str | None = Field(None, description="Comma separated list of domains, the certificate should be "
                               "issued for. When csr is not provided, the first domain is used as a subject/CN")
    ipaddress: str | None = Field(None, description="Comma separated list of IP addresses, the certificate should "
                                  "be issued for")
    duration: int | None = Field(None, description="Certificate validity duration in number of days, when not "
                                 "provided the default configured value will be used")


@api_command("issueCertificate", params=IssueCertificateParams, result_key="certificates", response=CertificateResp,
             is_async=True, roles=ADMIN, event="CA.CERTIFICATE.ISSUE", since="4.11.0",
             description="Issues a client certificate using configured or provided CA plugin")
def issue_certificate(ctx: CallContext, p: IssueCertificateParams) -> CertificateResp:
    certificates.provider(ctx.session, p.provider)
    cert, key = certificates.issue(ctx.session, csr_pem=p.csr, domains=p.domain, addresses=p.ipaddress,
                                   days=p.duration)
    return CertificateResp(certificate=cert, privatekey=key, cacertificates=certificates.ca_pem(ctx.session))


class RevokeCertificateParams(ProviderParams):
    serial: str = Field(description="The certificate serial number, as a hex value")
    cn: str | None = Field(None, description="The certificate CN")


@api_command("revokeCertificate", params=RevokeCertificateParams, response=SuccessResp, is_async=True, roles=ADMIN,
             event="CA.CERTIFICATE.REVOKE", since="4.11.0", description="Revokes certificate using configured CA "
             "plugin")
def revoke_certificate(ctx: CallContext, p: RevokeCertificateParams) -> Success:
    certificates.provider(ctx.session, p.provider)
    certificates.revoke(ctx.session, p.serial, p.cn)
    return Success()


class ProvisionCertificateParams(ProviderParams):
    hostid: Annotated[str, Ref("Host")] = Field(description="The host/agent uuid to which the certificate has to be "
                                                "provisioned (issued and propagated)")
    reconnect: bool | None = Field(None, description="Whether to attempt reconnection with host/agent after "
                                   "propagating the certificate")


@api_command("provisionCertificate", params=ProvisionCertificateParams, response=SuccessResp, is_async=True,
             roles=ADMIN, entity="Host", event="CA.CERTIFICATE.PROVISION", since="4.11.0",
             description="Issues and propagates client certificate on a connected host/agent using configured CA "
             "plugin")
def provision_certificate(ctx: CallContext, p: ProvisionCertificateParams) -> Success:
    certificates.provider(ctx.session, p.provider)
    host = ctx.refs["hostid"]
    if host.status != "Up":
        raise ResourceUnavailable(f"Failed to provision certificate to host {host.name}: it is not connected")
    certificates.issue(ctx.session, csr_pem=None, domains=host.name, addresses=host.private_ip, days=None,
                       host_id=host.id)
    return Success()


class CustomCertificateResp(JobResp):
    message: str = Field(description="message of the certificate upload operation")


class UploadCustomCertificateParams(Params):
    certificate: Annotated[str, _LONG] = Field(description="The certificate to be uploaded.")
    id: int | None = Field(None, description="An integer providing the location in a chain that the certificate "
                           "will hold. Usually, this can be left empty. When creating a chain, the top level "
                           "certificate should have an ID of 1, with each step in the chain incrementing by one. "
                           "Example, CA with id = 1, Intermediate CA with id = 2, Site certificate with ID = 3")
    name: str | None = Field(None, description="A name / alias for the certificate.")
    privatekey: Annotated[str | None, _LONG] = Field(None, description="The private key for the attached "
                                                     "certificate.")
    domainsuffix: str = Field(description="DNS domain suffix that the certificate is granted for.")


@api_command("uploadCustomCertificate", params=UploadCustomCertificateParams, result_key="customcertificate",
             response=CustomCertificateResp, is_async=True, roles=ADMIN, event="UPLOAD.CUSTOM.CERTIFICATE",
             description="Uploads a custom certificate for the console proxy VMs to use for SSL. Can be used to "
             "upload a single certificate signed by a known CA. Can also be used, through multiple calls, to upload "
             "a chain of certificates from CA to the custom certificate itself.")
def upload_custom_certificate(ctx: CallContext, p: UploadCustomCertificateParams) -> CustomCertificateResp:
    message = certificates.custom_certificate(ctx.session, certificate=p.certificate, private_key=p.privatekey,
                                              index=p.id, name=p.name, domain_suffix=p.domainsuffix)
    return CustomCertificateResp(message=message)
