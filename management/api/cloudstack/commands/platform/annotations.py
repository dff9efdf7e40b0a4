"""Annotations: addAnnotation, listAnnotations, removeAnnotation, updateAnnotationVisibility."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, Params, api_command
from management.api.cloudstack.schemas_platform import JobResp
from management.errors import ParamError
from management.models.identity import User
from management.models.platform import Annotation
from management.services import access
from management.services import annotations as notes
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate


class AnnotationResp(JobResp):
    id: str = Field(description="the (uu)id of the annotation")
    entitytype: str | None = Field(None, description="the type of the annotated entity")
    entityid: str | None = Field(None, description="the (uu)id of the entity to which this annotation pertains")
    entityname: str | None = Field(None, description="the name of the entity to which this annotation pertains")
    annotation: str | None = Field(None, description="the contents of the annotation")
    userid: str | None = Field(None, description="The (uu)id of the user that entered the annotation")
    username: str | None = Field(None, description="The username of the user that entered the annotation")
    adminsonly: bool | None = Field(None, description="True if the annotation is available for admins only")
    created: datetime | None = Field(None, description="the creation timestamp for this annotation")
    removed: datetime | None = Field(None, description="the removal timestamp for this annotation")


def _resp(ctx: CallContext, a: Annotation) -> AnnotationResp:
    user = ctx.session.scalar(select(User).where(User.uuid == a.user_uuid))
    name = None
    if a.entity_uuid and a.entity_type in notes.ENTITY_TYPES:
        entity = notes.ENTITY_TYPES[a.entity_type]
        model = access.entity_policy(entity).model if access.is_entity(entity) else None
        row = ctx.session.scalar(select(model).where(model.uuid == a.entity_uuid)) if model is not None else None
        name = notes.entity_name(row) if row is not None else None
    return AnnotationResp(id=a.uuid, entitytype=a.entity_type, entityid=a.entity_uuid, entityname=name,
                          annotation=a.annotation, userid=a.user_uuid, username=user.username if user else None,
                          adminsonly=a.admins_only, created=a.created, removed=a.removed)


class AddAnnotationParams(Params):
    annotation: str | None = Field(None, description="the annotation text")
    entitytype: str | None = Field(None, description="The following entity types are allowed VM, VOLUME, SNAPSHOT, "
                                   "VM_SNAPSHOT, INSTANCE_GROUP, SSH_KEYPAIR, USER_DATA, NETWORK, VPC, "
                                   "PUBLIC_IP_ADDRESS, VPN_CUSTOMER_GATEWAY, TEMPLATE, ISO, KUBERNETES_CLUSTER, "
                                   "SERVICE_OFFERING, DISK_OFFERING, NETWORK_OFFERING, ZONE, POD, CLUSTER, HOST, "
                                   "DOMAIN, PRIMARY_STORAGE, SECONDARY_STORAGE, VR, SYSTEM_VM, AUTOSCALE_VM_GROUP, "
                                   "MANAGEMENT_SERVER")
    entityid: str | None = Field(None, description="the id of the entity to annotate")
    adminsonly: bool | None = Field(None, description="the annotation is visible for admins only")


@api_command("addAnnotation", params=AddAnnotationParams, result_key="annotation", response=AnnotationResp,
             roles=ADMIN, event="ANNOTATION.CREATE", since="4.11", description="add an annotation.")
def add_annotation(ctx: CallContext, p: AddAnnotationParams) -> AnnotationResp:
    return _resp(ctx, notes.add(ctx.session, ctx.caller, p.annotation, p.entitytype, p.entityid,
                                      p.adminsonly))


class ListAnnotationsParams(ListParams):
    id: str | None = Field(None, description="the id of the annotation")
    entitytype: str | None = Field(None, description="the entity type")
    entityid: str | None = Field(None, description="the id of the entity for which to show annotations")
    userid: str | None = Field(None, description="optional: the id of the user of the annotation")
    annotationfilter: str | None = Field(None, description="possible values are \"self\" and \"all\". * self : "
                                         "annotations that have been created by the calling user. * all : all the "
                                         "annotations the calling user can access")


@api_command("listAnnotations", params=ListAnnotationsParams, result_key="annotation", response=AnnotationResp,
             roles=ADMIN, since="4.11", description="Lists annotations.")
def list_annotations(ctx: CallContext, p: ListAnnotationsParams) -> ListResult:
    stmt = select(Annotation).where(Annotation.removed.is_(None))
    if p.id:
        stmt = stmt.where(Annotation.uuid == p.id)
    if p.entitytype:
        stmt = stmt.where(Annotation.entity_type == notes.entity_type(p.entitytype))
    if p.entityid:
        stmt = stmt.where(Annotation.entity_uuid == p.entityid)
    filt = (p.annotationfilter or "all").lower()
    if filt not in ("all", "self"):
        raise ParamError(f"Invalid annotation filter {p.annotationfilter}; valid values: all, self")
    if filt == "self":
        stmt = stmt.where(Annotation.user_uuid == ctx.caller.user_uuid)
    if p.userid:
        stmt = stmt.where(Annotation.user_uuid == p.userid)
    stmt = keyword_filter(stmt, p.keyword, Annotation.annotation)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, Annotation.id)
    return ListResult([_resp(ctx, a) for a in rows], count)


class AnnotationIdParams(Params):
    id: str = Field(description="the id of the annotation")


@api_command("removeAnnotation", params=AnnotationIdParams, result_key="annotation", response=AnnotationResp,
             roles=ADMIN, event="ANNOTATION.DELETE", since="4.11", description="remove an annotation.")
def remove_annotation(ctx: CallContext, p: AnnotationIdParams) -> AnnotationResp:
    return _resp(ctx, notes.remove(ctx.session, p.id))


class AnnotationVisibilityParams(AnnotationIdParams):
    adminsonly: bool = Field(description="the state of the annotation")


@api_command("updateAnnotationVisibility", params=AnnotationVisibilityParams, result_key="annotation",
             response=AnnotationResp, roles=ADMIN, event="ANNOTATION.UPDATE", since="4.16",
             description="update an annotation visibility.")
def update_annotation_visibility(ctx: CallContext, p: AnnotationVisibilityParams) -> AnnotationResp:
    ann = notes.find(ctx.session, p.id)
    ann.admins_only = p.adminsonly
    ctx.session.flush()
    return _resp(ctx, ann)
