"""GUI themes: createGuiTheme, listGuiThemes, updateGuiTheme, removeGuiTheme."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, ParamInfo, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.errors import ParamError
from management.models.platform import GuiTheme
from management.services import access, gui_themes
from management.services.context import CallContext
from management.services.listing import check_paging

access.register_entity("GuiTheme", GuiTheme, "public")

_LONG = ParamInfo(length=65535)


class GuiThemeResp(JobResp):
    id: str = Field(description="ID of the custom GUI theme")
    name: str = Field(description="Name of the GUI theme")
    description: str | None = Field(None, description="Description of the GUI theme")
    css: str | None = Field(None, description="The CSS to be retrieved and imported into the GUI when matching "
                            "the theme access configurations")
    jsonconfiguration: str | None = Field(None, description="The JSON with the configurations to be retrieved "
                                          "and imported into the GUI when matching the theme access configurations")
    commonnames: str | None = Field(None, description="A set of Common Names (CN) (fixed or wildcard) separated "
                                    "by comma that can retrieve the theme")
    domainids: str | None = Field(None, description="A set of domain UUIDs (also known as ID for the end-user) "
                                  "separated by comma that can retrieve the theme")
    recursivedomains: bool | None = Field(None, description="Whether to consider the subdomains of the informed "
                                          "domain IDs")
    accountids: str | None = Field(None, description="A set of account UUIDs (also known as ID for the end-user) "
                                   "separated by comma that can retrieve the theme")
    ispublic: bool | None = Field(None, description="Defines whether a theme can be retrieved by anyone when only "
                                  "the `commonNames` is informed")
    created: datetime | None = Field(None, description="When was the GUI theme created")
    removed: datetime | None = Field(None, description="When was the GUI theme removed")


def _resp(t: GuiTheme) -> GuiThemeResp:
    return GuiThemeResp(id=t.uuid, name=t.name, description=t.description, css=t.css,
                        jsonconfiguration=t.json_configuration, commonnames=t.common_names,
                        domainids=t.domain_uuids, recursivedomains=t.recursive_domains, accountids=t.account_uuids,
                        ispublic=t.is_public, created=t.created, removed=t.removed)


class _ThemeFields(Params):
    description: Annotated[str | None, ParamInfo(length=4096)] = Field(None, description="A description for the "
                                                                       "theme")
    css: Annotated[str | None, _LONG] = Field(None, description="The CSS to be retrieved and imported into the GUI "
                                              "when matching the theme access configurations")
    jsonconfiguration: Annotated[str | None, _LONG] = Field(None, description="The JSON with the configurations to "
                                                            "be retrieved and imported into the GUI")
    commonnames: Annotated[str | None, _LONG] = Field(None, description="A set of Common Names (CN) (fixed or "
                                                      "wildcard) separated by comma that can retrieve the theme")
    domainids: Annotated[str | None, _LONG] = Field(None, description="A set of domain UUIDs separated by comma "
                                                    "that can retrieve the theme")
    accountids: Annotated[str | None, _LONG] = Field(None, description="A set of account UUIDs separated by comma "
                                                     "that can retrieve the theme")
    ispublic: bool | None = Field(None, description="Defines whether a theme can be retrieved by anyone when only "
                                  "the `commonNames` is informed")
    recursivedomains: bool | None = Field(None, description="Defines whether the subdomains of the informed domains "
                                          "are considered")


class CreateGuiThemeParams(_ThemeFields):
    name: Annotated[str, ParamInfo(length=2048)] = Field(description="A name to identify the theme")


def _apply(ctx: CallContext, t: GuiTheme, p: Any) -> None:
    gui_themes.validate(ctx.session, json_configuration=p.jsonconfiguration, domain_uuids=p.domainids,
                        account_uuids=p.accountids)
    for attr, col in (("description", "description"), ("css", "css"), ("jsonconfiguration", "json_configuration"),
                      ("commonnames", "common_names"), ("domainids", "domain_uuids"),
                      ("accountids", "account_uuids"), ("ispublic", "is_public"),
                      ("recursivedomains", "recursive_domains")):
        value = getattr(p, attr)
        if value is not None:
            setattr(t, col, value)


@api_command("createGuiTheme", params=CreateGuiThemeParams, result_key="guithemes", response=GuiThemeResp,
             roles=ADMIN, entity="GuiTheme", event="GUI.THEME.CREATE", since="4.21.0.0",
             description="Creates a customized GUI theme for a set of Common Names (fixed or wildcard), a set of "
             "domain UUIDs, and/or a set of account UUIDs.")
def create_gui_theme(ctx: CallContext, p: CreateGuiThemeParams) -> GuiThemeResp:
    if not p.name.strip():
        raise ParamError("A name is required to create a GUI theme")
    t = GuiTheme(name=p.name)
    _apply(ctx, t, p)
    ctx.session.add(t)
    ctx.session.flush()
    return _resp(t)


class UpdateGuiThemeParams(_ThemeFields):
    id: Annotated[str, Ref("GuiTheme")] = Field(description="The ID of the theme to be updated")
    name: Annotated[str | None, ParamInfo(length=2048)] = Field(None, description="A name to identify the theme")


@api_command("updateGuiTheme", params=UpdateGuiThemeParams, result_key="guithemes", response=GuiThemeResp,
             roles=ADMIN, entity="GuiTheme", event="GUI.THEME.UPDATE", since="4.21.0.0",
             description="Updates an existing GUI theme.")
def update_gui_theme(ctx: CallContext, p: UpdateGuiThemeParams) -> GuiThemeResp:
    t: GuiTheme = ctx.refs["id"]
    if p.name is not None:
        t.name = p.name
    _apply(ctx, t, p)
    ctx.session.flush()
    return _resp(t)


class RemoveGuiThemeParams(Params):
    id: Annotated[str, Ref("GuiTheme")] = Field(description="The ID of the theme to be removed.")


@api_command("removeGuiTheme", params=RemoveGuiThemeParams, result_key="guithemes", response=GuiThemeResp,
             roles=ADMIN, entity="GuiTheme", event="GUI.THEME.REMOVE", since="4.21.0.0",
             description="Removes an existing GUI theme.")
def remove_gui_theme(ctx: CallContext, p: RemoveGuiThemeParams) -> GuiThemeResp:
    t: GuiTheme = ctx.refs["id"]
    gui_themes.remove(t)
    ctx.session.flush()
    return _resp(t)


class ListGuiThemesParams(ListParams):
    id: Uuid | None = Field(None, description="The theme ID.")
    name: str | None = Field(None, description="The name of the theme.")
    commonname: str | None = Field(None, description="The common name of the theme.")
    domainid: Uuid | None = Field(None, description="The domain ID of the theme.")
    accountid: Uuid | None = Field(None, description="The account ID of the theme.")
    listall: bool | None = Field(None, description="Whether to list all themes.")
    showremoved: bool | None = Field(None, description="Whether to list removed themes.")
    showpublic: bool | None = Field(None, description="Whether to list public themes.")
    listonlydefaulttheme: bool | None = Field(None, description="Whether to only list the newest theme that applies "
                                              "to the caller (the UI's default).")


@api_command("listGuiThemes", params=ListGuiThemesParams, result_key="guiThemes", response=GuiThemeResp,
             since="4.21.0.0", description="Lists GUI themes.")
def list_gui_themes(ctx: CallContext, p: ListGuiThemesParams) -> ListResult:
    s = ctx.session
    stmt = select(GuiTheme)
    if not (p.showremoved and ctx.caller.is_root_admin):
        stmt = stmt.where(GuiTheme.removed.is_(None))
    if p.id:
        stmt = stmt.where(GuiTheme.uuid == p.id)
    if p.name:
        stmt = stmt.where(GuiTheme.name == p.name)
    if p.showpublic is not None:
        stmt = stmt.where(GuiTheme.is_public.is_(p.showpublic))
    if p.domainid:
        stmt = stmt.where(GuiTheme.domain_uuids.contains(p.domainid))
    if p.accountid:
        stmt = stmt.where(GuiTheme.account_uuids.contains(p.accountid))
    rows = list(s.scalars(stmt.order_by(GuiTheme.id.desc())))
    if not (ctx.caller.is_root_admin and p.listall) or p.commonname or p.listonlydefaulttheme:
        rows = [t for t in rows if gui_themes.applies_to(s, t, ctx.caller, p.commonname)]
    if p.listonlydefaulttheme:
        rows = rows[:1]
    offset, limit = check_paging(s, p.page, p.pagesize)  # over the themes that apply to the caller
    page = rows[offset:offset + limit] if limit is not None else rows[offset:]
    return ListResult([_resp(t) for t in page], len(rows))
