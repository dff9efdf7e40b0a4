"""Response objects for templates and ISOs (CloudStack's TemplateResponse serves both)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp


class TemplateResp(Resp):
    id: str = Field(description="the template ID")
    name: str = Field(description="the template name")
    displaytext: str | None = Field(None, description="the template display text")
    isready: bool = Field(description="true if the template is ready to be deployed from, false otherwise")
    status: str | None = Field(None, description="the status of the template")
    templatetype: str | None = Field(None, description="the type of the template")
    format: str = Field(description="the format of the template")
    hypervisor: str | None = Field(None, description="the hypervisor on which the template runs")
    ostypeid: str | None = Field(None, description="the ID of the OS type for this template")
    ostypename: str | None = Field(None, description="the name of the OS type for this template")
    zoneid: str | None = Field(None, description="the ID of the zone for this template")
    zonename: str | None = Field(None, description="the name of the zone for this template")
    size: int | None = Field(None, description="the size of the template")
    physicalsize: int | None = Field(None, description="the physical size of the template")
    ispublic: bool = Field(description="true if this template is a public template, false otherwise")
    isfeatured: bool = Field(description="true if this template is a featured template, false otherwise")
    isextractable: bool = Field(description="true if the template is extractable, false otherwise")
    passwordenabled: bool = Field(description="true if the reset password feature is enabled, false otherwise")
    sshkeyenabled: bool = Field(description="true if template is sshkey enabled, false otherwise")
    bootable: bool = Field(description="true if the ISO is bootable, false otherwise")
    requireshvm: bool = Field(description="true if template requires HVM enabled, false otherwise")
    crossZones: bool = Field(description="true if the template is managed across all Zones, false otherwise")
    isdynamicallyscalable: bool = Field(False, description="true if template contains XS/VMWare tools inorder to "
                                        "support dynamic scaling of VM cpu/memory")
    checksum: str | None = Field(None, description="checksum of the template")
    url: str | None = Field(None, description="the URL which the template/iso is registered from")
    account: str | None = Field(None, description="the account name to which the template belongs")
    accountid: str | None = Field(None, description="the account id to which the template belongs")
    domain: str | None = Field(None, description="the name of the domain to which the template belongs")
    domainid: str | None = Field(None, description="the ID of the domain to which the template belongs")
    created: datetime | None = Field(None, description="the date this template was created")
    removed: datetime | None = Field(None, description="the date this template was removed")
    sourcetemplateid: str | None = Field(None, description="the template ID of the parent template if present")
    directdownload: bool = Field(False, description="KVM Only: true if template is directly downloaded to "
                                 "Primary Storage bypassing Secondary Storage")
    deployasis: bool = Field(False, description="VMware only: true if template is deployed without orchestrating "
                             "disks and networks but \"as-is\" defined in the template.")
    details: dict[str, str] | None = Field(None, description="additional key/value details tied with template")
    downloaddetails: list[dict[str, str]] | None = Field(None, description="Lists the download progress of a "
                                                         "template across all secondary storages")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")


class TemplatePermissionsResp(Resp):
    id: str = Field(description="the template ID")
    ispublic: bool = Field(description="true if this template is a public template, false otherwise")
    domainid: str | None = Field(None, description="the ID of the domain to which the template belongs")
    account: list[str] = Field(default_factory=list, description="the list of accounts the template is "
                               "available for")
    projectids: list[str] = Field(default_factory=list, description="the list of projects the template is "
                                  "available for")


class ExtractResp(Resp):
    id: str = Field(description="the id of extracted object")
    name: str = Field(description="the name of the extracted object")
    extractId: str | None = Field(None, description="the upload id of extracted object")
    state: str = Field(description="the state of the extracted object")
    status: str | None = Field(None, description="the status of the extraction")
    uploadpercentage: int = Field(0, description="the percentage of the entity uploaded to the specified location")
    url: str | None = Field(None, description="if mode = upload then url of the uploaded entity. if mode = "
                            "download the url from which the entity can be downloaded")
    zoneid: str | None = Field(None, description="zone ID the object was extracted from")
    zonename: str | None = Field(None, description="zone name the object was extracted from")
    extractMode: str = Field(description="the mode of extraction - upload or download")
    accountid: str | None = Field(None, description="the account id to which the extracted object belongs")
    created: datetime | None = Field(None, description="the time and date the object was created")
    resultstring: str | None = Field(None, description="the result of the extraction")
