"""listEvents and listEventTypes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack import registry
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import Date, OwnedListParams, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas import EventResp, Resp
from management.api.cloudstack.signing import parse_expires
from management.models.events import Event
from management.models.identity import Account, Domain, User
from management.services import access
from management.services.context import CallContext
from management.services.listing import paginate

access.register_entity("Event", Event, "owned")


def event_resp(ctx: CallContext, e: Event) -> EventResp:
    acct = ctx.session.get_one(Account, e.account_id)
    dom = ctx.session.get_one(Domain, e.domain_id)
    user = ctx.session.get_one(User, e.user_id)
    parent = ctx.session.get(Event, e.start_id) if e.start_id else None
    return EventResp(id=e.uuid, type=e.type, level=e.level, state=e.state, description=e.description,
                     username=user.username, account=acct.name, domainid=dom.uuid, domain=dom.name,
                     resourcetype=e.resource_type, resourceid=e.resource_uuid,
                     parentid=parent.uuid if parent else None, created=e.created, archived=e.archived)


class ListEventsParams(OwnedListParams):
    id: Annotated[str | None, Ref("Event", "read")] = Field(None, description="the ID of the event")
    type: str | None = Field(None, description="the event type (see event types)")
    level: str | None = Field(None, description="the event level (INFO, WARN, ERROR)")
    startdate: Date | None = Field(None, description="the start date range of the list you want to retrieve (use "
                                  "format \"yyyy-MM-dd\" or the new format \"yyyy-MM-dd HH:mm:ss\")")
    enddate: Date | None = Field(None, description="the end date range of the list you want to retrieve (use format "
                                "\"yyyy-MM-dd\" or the new format \"yyyy-MM-dd HH:mm:ss\")")
    duration: int | None = Field(None, description="the duration of the event")
    entrytime: int | None = Field(None, description="the time the event was entered")
    resourceid: str | None = Field(None, description="the ID of the resource associated with the event")
    resourcetype: str | None = Field(None, description="the type of the resource associated with the event")
    startid: Uuid | None = Field(None, description="the parent/start ID of the event, when provided this will "
                                "list all the events with the start/parent ID including the parent event")
    archived: bool = Field(False, description="true to list archived events otherwise false")


@api_command("listEvents", params=ListEventsParams, result_key="event", response=EventResp,
             description="A command to list events.")
def list_events(ctx: CallContext, p: ListEventsParams) -> ListResult:
    stmt = select(Event).where(Event.removed.is_(None), Event.archived.is_(p.archived))
    stmt = access.owned_filter(ctx.session, stmt, Event, ctx.caller, account=p.account, domainid=p.domainid,
                               projectid=p.projectid, isrecursive=p.isrecursive, listall=p.listall or p.id is not None)
    if p.id:
        stmt = stmt.where(Event.uuid == p.id)
    if p.type:
        stmt = stmt.where(Event.type == p.type)
    if p.level:
        stmt = stmt.where(Event.level == p.level.upper())
    if p.resourceid:
        stmt = stmt.where(Event.resource_uuid == p.resourceid)
    if p.resourcetype:
        stmt = stmt.where(Event.resource_type == p.resourcetype)
    for bound, op in ((p.startdate, "ge"), (p.enddate, "le")):
        if bound:
            when = parse_expires(bound.replace(" ", "T"))
            stmt = stmt.where(Event.created >= when if op == "ge" else Event.created <= when)
    if p.keyword:
        stmt = stmt.where(Event.description.ilike(f"%{p.keyword}%") | Event.type.ilike(f"%{p.keyword}%"))
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Event.id.desc())
    return ListResult([event_resp(ctx, e) for e in rows], count)


class EventTypeResp(Resp):
    name: str = Field(description="Event Type")


@api_command("listEventTypes", params=Params, result_key="eventtype", response=EventTypeResp,
             description="List Event Types")
def list_event_types(ctx: CallContext, p: Params) -> ListResult:
    names = sorted({s.event for s in registry.commands().values() if s.event})
    return ListResult([{"name": n} for n in names], len(names))
