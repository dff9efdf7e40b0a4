"""Quota (plugins/database/quota): tariffs, credits, balance, statement, summary, email templates and
configuration, preset variables and activation rule checks, quotaUpdate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.dates import parse_date
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import (
    ADMIN,
    DOMAIN_ADMIN,
    Date,
    ListParams,
    ParamInfo,
    Params,
    Ref,
    api_command,
)
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.db.base import utcnow
from management.db.subtree import in_subtree
from management.errors import ParamError, PermissionDenied
from management.models.identity import Account, Domain, User
from management.models.platform import (
    QuotaAccount,
    QuotaBalance,
    QuotaCredit,
    QuotaEmailConfiguration,
    QuotaEmailTemplate,
    QuotaTariff,
)
from management.services import access
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, rows_by_id
from management.services.plugins import quota

_LONG_TEXT = ParamInfo(length=65535)


def _date(ctx: CallContext, value: str | None, name: str, *, end: bool = False) -> datetime | None:
    return parse_date(value, name, ctx.command, end_of_day=end) if value else None


def _owner(ctx: CallContext, account: str | None, domain: Domain | None, account_row: Account | None) -> Account:
    """The account a quota command is about: `accountid`, else `account` in `domainid` (both checked against the
    caller's rights)."""
    if account_row is not None:
        return account_row
    if account is None or domain is None:
        raise ParamError("Please provide either the account ID or the account name and the domain ID")
    return access.owner_for(ctx.session, ctx.caller, account, domain.uuid)


# ------------------------------------------------------------------------------------------------ tariffs


class QuotaTariffResp(JobResp):
    usageType: int = Field(description="usageType")  # noqa: N815 - CloudStack's camel-case names
    usageName: str = Field(description="usageName")  # noqa: N815
    usageUnit: str = Field(description="usageUnit")  # noqa: N815
    usageDiscriminator: str | None = Field(None, description="usageDiscriminator")  # noqa: N815
    tariffValue: Decimal = Field(description="tariffValue")  # noqa: N815
    effectiveDate: datetime = Field(description="the start date of the quota tariff")  # noqa: N815
    usageTypeDescription: str = Field(description="usage type description")  # noqa: N815
    currency: str = Field(description="currency")
    endDate: datetime | None = Field(None, description="the end date of the quota tariff")  # noqa: N815
    activationRule: str | None = Field(None, description="activation rule of the quota tariff")  # noqa: N815
    name: str = Field(description="name")
    description: str | None = Field(None, description="description")
    id: str = Field(description="the ID of the tariff")
    removed: datetime | None = Field(None, description="when the quota tariff was removed")
    position: int | None = Field(None, description="position in the execution sequence for tariffs of the same "
                                 "type")


def _tariff_resp(ctx: CallContext, t: QuotaTariff, *, rule: bool = True) -> QuotaTariffResp:
    return QuotaTariffResp(usageType=t.usage_type, usageName=t.usage_name, usageUnit=t.usage_unit,
                           usageDiscriminator=t.usage_discriminator, tariffValue=Decimal(t.currency_value),
                           effectiveDate=t.effective_on, usageTypeDescription=quota.QUOTA_TYPES[t.usage_type]
                           .description, currency=quota.currency(ctx.session), endDate=t.end_date,
                           activationRule=t.activation_rule if rule else None, name=t.name,
                           description=t.description, id=t.uuid, removed=t.removed, position=t.position)


class QuotaTariffListParams(ListParams):
    usagetype: int | None = Field(None, description="Usage type of the resource")
    startdate: Date | None = Field(None, description="The start date of the quota tariff. Use "
                                                     "yyyy-MM-dd as the date format, e.g. startDate=2009-06-03.")
    enddate: Date | None = Field(None, description="The end date of the quota tariff. Use "
                                                   "yyyy-MM-dd as the date format, e.g. endDate=2021-11-03.")
    name: str | None = Field(None, description="The name of the quota tariff.")
    listall: bool = Field(False, description="False will list only not removed quota tariffs. If set to True, we "
                          "will list all, including the removed ones. The default is false.")
    listonlyremoved: bool = Field(False, description="If set to true, we will list only the removed tariffs. The "
                                  "default is false.")
    id: str | None = Field(None, description="The quota tariff's id.")


@api_command("quotaTariffList", params=QuotaTariffListParams, result_key="quotatariff", response=QuotaTariffResp,
             since="4.7.0", read_only=True, description="Lists all quota tariff plans")
def quota_tariff_list(ctx: CallContext, p: QuotaTariffListParams) -> ListResult:
    stmt = select(QuotaTariff)
    if p.listonlyremoved:
        stmt = stmt.where(QuotaTariff.removed.is_not(None))
    elif not p.listall:
        stmt = stmt.where(QuotaTariff.removed.is_(None))
    if p.usagetype is not None:
        stmt = stmt.where(QuotaTariff.usage_type == p.usagetype)
    start, end = _date(ctx, p.startdate, "startdate"), _date(ctx, p.enddate, "enddate", end=True)
    if start is not None:
        stmt = stmt.where(QuotaTariff.effective_on <= start)
    if end is not None:
        stmt = stmt.where((QuotaTariff.end_date.is_(None)) | (QuotaTariff.end_date <= end))
    if p.name:
        stmt = stmt.where(QuotaTariff.name == p.name)
    if p.id:
        stmt = stmt.where(QuotaTariff.uuid == p.id)
    stmt = keyword_filter(stmt, p.keyword, QuotaTariff.name)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, QuotaTariff.id)
    show_rules = ctx.caller.is_root_admin  # only who may create/update tariffs sees their rules
    return ListResult([_tariff_resp(ctx, t, rule=show_rules) for t in rows], count)


class QuotaTariffCreateParams(Params):
    name: Annotated[str, _LONG_TEXT] = Field(description="Quota tariff's name")
    description: Annotated[str | None, _LONG_TEXT] = Field(None, description="Quota tariff's description.")
    usagetype: int = Field(description="Integer value for the usage type of the resource.")
    value: float = Field(description="The quota tariff value of the resource as per the default unit.")
    activationrule: Annotated[str | None, _LONG_TEXT] = Field(
        None, description="Quota tariff's activation rule (a JavaScript expression; refused while JavaScript "
        "interpretation is disabled).")
    startdate: Date | None = Field(None, description="The effective start date on/after which the "
                                                     "quota tariff is effective. Inform null to use the current date.")
    enddate: Date | None = Field(None, description="The end date of the quota tariff. If not "
                                                   "informed, the tariff will be valid indefinitely.")
    position: int | None = Field(None, description="Position in the execution sequence for tariffs of the same type")


@api_command("quotaTariffCreate", params=QuotaTariffCreateParams, result_key="quotatariff",
             response=QuotaTariffResp, roles=ADMIN, event="QUOTA.TARIFF.CREATE", since="4.18.0.0",
             description="Creates a quota tariff for a resource.")
def quota_tariff_create(ctx: CallContext, p: QuotaTariffCreateParams) -> QuotaTariffResp:
    t = quota.create_tariff(ctx.session, name=p.name, usage_type=p.usagetype, value=p.value,
                            description=p.description, rule=p.activationrule,
                            start=_date(ctx, p.startdate, "startdate"), end=_date(ctx, p.enddate, "enddate"),
                            position=p.position, user_id=ctx.caller.user_id)
    return _tariff_resp(ctx, t)


class QuotaTariffUpdateParams(Params):
    usagetype: int | None = Field(None, description="Integer value for the usage type of the resource (no longer "
                                  "used)")
    value: float | None = Field(None, description="The quota tariff value of the resource as per the default unit.")
    startdate: Date | None = Field(None, description="The effective start date on/after which the "
                                                     "quota tariff is effective (no longer used).")
    enddate: Date | None = Field(None, description="The end date of the quota tariff.")
    name: Annotated[str, _LONG_TEXT] = Field(description="Quota tariff's name")
    description: Annotated[str | None, _LONG_TEXT] = Field(None, description="Quota tariff's description. Inform "
                                                           "empty to remove the description.")
    activationrule: Annotated[str | None, _LONG_TEXT] = Field(None, description="Quota tariff's activation rule.")
    position: int | None = Field(None, description="Position in the execution sequence for tariffs of the same type")


@api_command("quotaTariffUpdate", params=QuotaTariffUpdateParams, result_key="quotatariff",
             response=QuotaTariffResp, roles=ADMIN, event="QUOTA.TARIFF.UPDATE", since="4.7.0",
             description="Update the tariff plan for a resource")
def quota_tariff_update(ctx: CallContext, p: QuotaTariffUpdateParams) -> QuotaTariffResp:
    t = quota.update_tariff(ctx.session, name=p.name, value=p.value, description=p.description,
                            rule=p.activationrule, end=_date(ctx, p.enddate, "enddate"), position=p.position,
                            user_id=ctx.caller.user_id)
    return _tariff_resp(ctx, t)


class QuotaTariffDeleteParams(Params):
    id: str = Field(description="The quota tariff's id.")


@api_command("quotaTariffDelete", params=QuotaTariffDeleteParams, response=SuccessResp, roles=ADMIN,
             event="QUOTA.TARIFF.DELETE", since="4.18.0.0", description="Marks a quota tariff as removed.")
def quota_tariff_delete(ctx: CallContext, p: QuotaTariffDeleteParams) -> Success:
    quota.delete_tariff(ctx.session, p.id)
    return Success()


# --------------------------------------------------------------------------------- credits and balances


class QuotaCreditsResp(JobResp):
    credit: Decimal = Field(description="the credit deposited")
    creditoruserid: str | None = Field(None, description="ID of the user who deposited the credit")
    creditorusername: str | None = Field(None, description="the user name of the admin who did the crediting")
    creditedon: datetime = Field(description="the date the credit was deposited")
    currency: str = Field(description="currency")


def _credit_resp(ctx: CallContext, c: QuotaCredit, users: dict[Any, Any] | None = None) -> QuotaCreditsResp:
    user = (users or {}).get(c.updated_by) if users is not None else (
        ctx.session.get(User, c.updated_by) if c.updated_by else None)
    return QuotaCreditsResp(credit=Decimal(c.credit), creditoruserid=user.uuid if user else None,
                            creditorusername=user.username if user else None, creditedon=c.updated_on,
                            currency=quota.currency(ctx.session))


class QuotaCreditsParams(Params):
    account: str = Field(description="Account Id for which quota credits need to be added")
    domainid: Annotated[str, Ref("Domain")] = Field(description="Domain for which quota credits need to be added")
    value: float = Field(description="Value of the credits to be added+, subtracted-")
    min_balance: float | None = Field(None, description="Minimum balance threshold of the account")
    quota_enforce: bool | None = Field(None, description="Account for which quota enforce is set to false will "
                                       "not be locked when there is no credit balance")


@api_command("quotaCredits", params=QuotaCreditsParams, result_key="quotacredits", response=QuotaCreditsResp,
             roles=DOMAIN_ADMIN, event="QUOTA.CREDITS.ADD", entity="Account", since="4.7.0",
             description="Add +-credits to an account")
def quota_credits(ctx: CallContext, p: QuotaCreditsParams) -> QuotaCreditsResp:
    acct = access.owner_for(ctx.session, ctx.caller, p.account, ctx.refs["domainid"].uuid)
    if acct.id == ctx.caller.account_id and not ctx.caller.is_root_admin:
        raise PermissionDenied("The caller is not allowed to add credits to its own account")
    credit = quota.add_credits(ctx.session, acct, p.value, ctx.caller.user_id, min_balance=p.min_balance,
                               enforce=p.quota_enforce)
    return _credit_resp(ctx, credit)


class QuotaCreditsListParams(Params):
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="ID of the account for "
                                                                     "which the credit statement will be generated.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="ID of the domain for which "
                                                                   "the credit statement will be generated.")
    startdate: Date | None = Field(None, description="Start date of the credit statement.")
    enddate: Date | None = Field(None, description="End date of the credit statement.")
    isrecursive: bool = Field(False, description="Whether to list the credits of the domain's subdomains too.")


@api_command("quotaCreditsList", params=QuotaCreditsListParams, result_key="credit", response=QuotaCreditsResp,
             since="4.21.0", read_only=True, description="Lists quota credits of an account or domain")
def quota_credits_list(ctx: CallContext, p: QuotaCreditsListParams) -> ListResult:
    s = ctx.session
    stmt = select(QuotaCredit)
    acct, dom = ctx.refs.get("accountid"), ctx.refs.get("domainid")
    if acct is not None:
        stmt = stmt.where(QuotaCredit.account_id == acct.id)
    elif dom is not None:
        if not access.domain_in_scope(ctx.caller, dom.path):
            raise PermissionDenied(f"Account '{ctx.caller.account_name}' does not have permission to list the "
                                   f"credits of domain {dom.uuid}", uuids=[dom.uuid])
        ids = select(Domain.id).where(in_subtree(Domain.path, dom.path)) if p.isrecursive else [dom.id]
        stmt = stmt.where(QuotaCredit.domain_id.in_(ids))
    else:
        stmt = access.owned_filter(s, stmt, QuotaCredit, ctx.caller, listall=False)
    start, end = _date(ctx, p.startdate, "startdate"), _date(ctx, p.enddate, "enddate", end=True)
    if start is not None:
        stmt = stmt.where(QuotaCredit.updated_on >= start)
    if end is not None:
        stmt = stmt.where(QuotaCredit.updated_on <= end)
    rows = list(s.scalars(stmt.order_by(QuotaCredit.updated_on, QuotaCredit.id)))
    users = rows_by_id(s, User, (c.updated_by for c in rows))
    return ListResult([_credit_resp(ctx, c, users) for c in rows], len(rows))


class QuotaStatementItemResp(JobResp):
    type: int = Field(description="usage type")
    accountid: str | None = Field(None, description="account id")
    account: str | None = Field(None, description="account name")
    domain: str | None = Field(None, description="domain id")
    name: str = Field(description="usage type name")
    unit: str = Field(description="usage unit")
    quota: Decimal = Field(description="quota consumed")


class QuotaBalanceResp(JobResp):
    accountid: str | None = Field(None, description="account id")
    account: str | None = Field(None, description="account name")
    domain: str | None = Field(None, description="domain id")
    startquota: Decimal | None = Field(None, description="quota started with")
    endquota: Decimal | None = Field(None, description="quota by end of this period")
    credits: list[QuotaCreditsResp] | None = Field(None, description="list of credits made during this period")
    startdate: datetime | None = Field(None, description="start date")
    enddate: datetime | None = Field(None, description="end date")
    currency: str | None = Field(None, description="currency")


class QuotaBalanceParams(Params):
    account: str = Field(description="Account Id for which statement needs to be generated")
    domainid: Annotated[str, Ref("Domain", "read")] = Field(description="If domain Id is given and the caller is "
                                                            "domain admin then the statement is generated for domain.")
    enddate: Date | None = Field(None, description="End of the period of the Quota balance."
                                                   "Use yyyy-MM-dd as the date format, e.g. endDate=2009-06-01")
    startdate: Date | None = Field(None, description="Start of the period of the Quota balance. "
                                                     "Use yyyy-MM-dd as the date format, e.g. startDate=2009-06-01")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="List usage records for the "
                                                                     "specified account")


# CloudStack declares QuotaStatementItemResponse for quotaBalance and quotaStatement (listApis shows its fields);
# the answers are the balance and the statement objects.
@api_command("quotaBalance", params=QuotaBalanceParams, result_key="balance", response=QuotaStatementItemResp,
             since="4.7.0", read_only=True, description="Create a quota balance statement")
def quota_balance(ctx: CallContext, p: QuotaBalanceParams) -> QuotaBalanceResp:
    s = ctx.session
    acct = _owner(ctx, p.account, ctx.refs.get("domainid"), ctx.refs.get("accountid"))
    start, end = _date(ctx, p.startdate, "startdate"), _date(ctx, p.enddate, "enddate", end=True)
    cur = quota.currency(s)
    dom = s.get_one(Domain, acct.domain_id)
    base: dict[str, Any] = {"accountid": acct.uuid, "account": acct.name, "domain": dom.uuid, "currency": cur}
    if end is None:
        # The balance as of startdate (default now): the last balance entry plus the credits after it.
        return QuotaBalanceResp(**base, startquota=quota.last_balance(s, acct.id, start), startdate=start or
                                utcnow())
    stmt = select(QuotaBalance).where(QuotaBalance.account_id == acct.id, QuotaBalance.updated_on <= end)
    if start is not None:
        stmt = stmt.where(QuotaBalance.updated_on >= start)
    entries = list(s.scalars(stmt.order_by(QuotaBalance.updated_on, QuotaBalance.id)))
    if not entries:
        raise ParamError("The request period does not contain balance entries.")
    credit_ids = [e.credits_id for e in entries if e.credits_id is not None]
    credits = list(s.scalars(select(QuotaCredit).where(QuotaCredit.id.in_(credit_ids or [0]))
                             .order_by(QuotaCredit.updated_on)))
    snapshots = [e for e in entries if e.credits_id is None]
    start_quota = Decimal(snapshots[0].credit_balance) if snapshots else Decimal(0)
    end_quota = quota.last_balance(s, acct.id, end)
    users = rows_by_id(s, User, (c.updated_by for c in credits))
    return QuotaBalanceResp(**base, startquota=start_quota, endquota=end_quota, startdate=start, enddate=end,
                            credits=[_credit_resp(ctx, c, users) for c in credits])


# ------------------------------------------------------------------------------------- statement, summary


class QuotaStatementResp(JobResp):
    accountid: str | None = Field(None, description="account id")
    account: str | None = Field(None, description="account name")
    domain: str | None = Field(None, description="domain id")
    quotausage: list[QuotaStatementItemResp] = Field(default_factory=list, description="list of quota usage under "
                                                     "various types")
    totalquota: Decimal = Field(description="total quota used during this period")
    startdate: datetime | None = Field(None, description="start date")
    enddate: datetime | None = Field(None, description="end date")
    currency: str = Field(description="currency")


class QuotaStatementParams(Params):
    account: str = Field(description="Optional, Account Id for which statement needs to be generated")
    domainid: Annotated[str, Ref("Domain", "read")] = Field(description="Optional, If domain Id is given and the "
                                                            "caller is domain admin then the statement is generated "
                                                            "for domain.")
    enddate: Date = Field(description="End of the period of the Quota statement. Use yyyy-MM-dd "
                                            "as the date format, e.g. endDate=2015-01-30")
    startdate: Date = Field(description="Start of the period of the Quota statement. Use "
                                              "yyyy-MM-dd as the date format, e.g. startDate=2015-01-30")
    type: int | None = Field(None, description="List quota usage records for the specified usage type")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="List usage records for the "
                                                                     "specified account")


@api_command("quotaStatement", params=QuotaStatementParams, result_key="statement",
             response=QuotaStatementItemResp,
             since="4.7.0", read_only=True, description="Create a quota statement")
def quota_statement(ctx: CallContext, p: QuotaStatementParams) -> QuotaStatementResp:
    s = ctx.session
    acct = _owner(ctx, p.account, ctx.refs.get("domainid"), ctx.refs.get("accountid"))
    start = parse_date(p.startdate, "startdate", ctx.command)
    end = parse_date(p.enddate, "enddate", ctx.command, end_of_day=True)
    rows = quota.usage_rows(s, acct.id, start, end, p.type)
    if not rows:
        raise ParamError("There is no usage data found for period mentioned.")
    dom = s.get_one(Domain, acct.domain_id)
    totals: dict[int, Decimal] = {t: Decimal(0) for t in quota.QUOTA_TYPES}  # CloudStack lists every type
    for r in rows:
        totals[r.usage_type] += Decimal(r.quota_used)
    items = [QuotaStatementItemResp(type=t, accountid=acct.uuid, domain=dom.uuid, name=quota.QUOTA_TYPES[t].name,
                                    unit=quota.QUOTA_TYPES[t].unit, quota=v) for t, v in sorted(totals.items())]
    return QuotaStatementResp(accountid=acct.uuid, account=acct.name, domain=dom.uuid, quotausage=items,
                              totalquota=sum(totals.values(), Decimal(0)), startdate=start, enddate=end,
                              currency=quota.currency(s))


class QuotaSummaryResp(JobResp):
    accountid: str = Field(description="account id")
    account: str = Field(description="account name")
    domainid: str = Field(description="domain id")
    domain: str = Field(description="domain name")
    balance: Decimal = Field(description="current balance")
    state: str = Field(description="account state")
    quota: Decimal = Field(description="quota usage of this period")
    startdate: datetime = Field(description="start date")
    enddate: datetime = Field(description="end date")
    currency: str = Field(description="currency")
    quotaenabled: bool = Field(description="if the account has the quota config enabled")


class QuotaSummaryParams(ListParams):
    account: str | None = Field(None, description="Optional, Account Id for which statement needs to be generated")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="Optional, If domain Id is "
                                                                   "given and the caller is domain admin then the "
                                                                   "statement is generated for domain.")
    listall: bool = Field(False, description="Optional, to list all accounts irrespective of the quota activity")


@api_command("quotaSummary", params=QuotaSummaryParams, result_key="summary", response=QuotaSummaryResp,
             since="4.7.0", read_only=True, description="Lists balance and quota usage for all accounts")
def quota_summary(ctx: CallContext, p: QuotaSummaryParams) -> ListResult:
    s = ctx.session
    start, end = quota.statement_period()
    enabled = quota.enabled(s)
    cur = quota.currency(s)

    def resp(a: Account, d: Domain) -> QuotaSummaryResp:
        return QuotaSummaryResp(accountid=a.uuid, account=a.name, domainid=d.uuid, domain=d.name,
                                balance=quota.last_balance(s, a.id, end), state=a.state,
                                quota=quota.total_usage(s, a.id, start, end), startdate=start, enddate=end,
                                currency=cur, quotaenabled=enabled)

    if p.account is not None or p.domainid is not None or not ctx.caller.is_admin:
        domain = ctx.refs.get("domainid")
        acct = (access.owner_for(s, ctx.caller, p.account, domain.uuid) if p.account and domain is not None
                else s.get_one(Account, ctx.caller.account_id))
        return ListResult([resp(acct, s.get_one(Domain, acct.domain_id))], 1)
    stmt = select(Account).where(Account.removed.is_(None))
    stmt = access.owned_filter(s, stmt, Account, ctx.caller, listall=True, account_col=Account.id)
    if not p.listall:
        stmt = stmt.where(Account.id.in_(select(QuotaAccount.account_id)))
    stmt = keyword_filter(stmt, p.keyword, Account.name)
    rows, count = paginate(s, stmt, p.page, p.pagesize, Account.name)
    domains = rows_by_id(s, Domain, (a.domain_id for a in rows))
    return ListResult([resp(a, domains[a.domain_id]) for a in rows], count)


# ------------------------------------------------------------------------------------------- update, enabled


class QuotaUpdateResp(JobResp):
    updated_on: datetime = Field(description="Last updated date")


@api_command("quotaUpdate", params=Params, result_key="quotaupdate", response=QuotaUpdateResp, roles=ADMIN,
             event="QUOTA.UPDATE", since="4.7.0", description="Update quota calculations, alerts and statements")
def quota_update(ctx: CallContext, p: Params) -> QuotaUpdateResp:
    return QuotaUpdateResp(updated_on=quota.update(ctx.session))


class QuotaEnabledResp(JobResp):
    isenabled: bool = Field(description="is quota service enabled")


@api_command("quotaIsEnabled", params=Params, result_key="quotaenabled", response=QuotaEnabledResp, since="4.7.0",
             read_only=True, description="Return true if the plugin is enabled")
def quota_is_enabled(ctx: CallContext, p: Params) -> QuotaEnabledResp:
    return QuotaEnabledResp(isenabled=quota.enabled(ctx.session))


# -------------------------------------------------------------------------------------------------- emails


class QuotaEmailTemplateResp(JobResp):
    templatetype: str = Field(description="Template type")
    templatesubject: str = Field(description="The quota email template subject")
    templatebody: str = Field(description="The quota email template content")
    locale: str = Field(description="The quota email template locale")
    last_updated: datetime = Field(description="Last date/time when template was updated")


class QuotaEmailTemplateListParams(ListParams):
    templatetype: str | None = Field(None, description="List by type of the quota email template, allowed types "
                                     "are QUOTA_LOW, QUOTA_EMPTY")


@api_command("quotaEmailTemplateList", params=QuotaEmailTemplateListParams, result_key="quotaemailtemplate",
             response=QuotaEmailTemplateResp, roles=ADMIN, since="4.7.0",
             read_only=True, description="Lists all quota email templates")
def quota_email_template_list(ctx: CallContext, p: QuotaEmailTemplateListParams) -> ListResult:
    rows = quota.email_templates(ctx.session, p.templatetype)
    return ListResult([QuotaEmailTemplateResp(templatetype=t.template_name, templatesubject=t.template_subject,
                                              templatebody=t.template_body, locale=t.locale,
                                              last_updated=t.last_updated) for t in rows], len(rows))


class QuotaEmailTemplateUpdateParams(Params):
    templatetype: str = Field(description="Type of the quota email template, allowed types are QUOTA_LOW, "
                              "QUOTA_EMPTY")
    templatesubject: Annotated[str, ParamInfo(length=77)] = Field(description="The quota email template subject, "
                                                                  "max: 77 characters")
    templatebody: Annotated[str, ParamInfo(length=512000)] = Field(description="The quota email template body, "
                                                                   "max: 500k characters")
    locale: str | None = Field(None, description="The locale of the email text")


@api_command("quotaEmailTemplateUpdate", params=QuotaEmailTemplateUpdateParams, response=SuccessResp, roles=ADMIN,
             event="QUOTA.EMAIL.TEMPLATE.UPDATE", since="4.7.0", description="Updates existing email templates for "
             "quota alerts")
def quota_email_template_update(ctx: CallContext, p: QuotaEmailTemplateUpdateParams) -> Success:
    if p.templatetype not in quota.EMAIL_TEMPLATES:
        raise ParamError(f"Invalid quota email template type {p.templatetype}, allowed types: "
                         f"{', '.join(quota.EMAIL_TEMPLATES)}")
    (t,) = quota.email_templates(ctx.session, p.templatetype, write=True)
    t.template_subject, t.template_body = p.templatesubject, p.templatebody
    if p.locale:
        t.locale = p.locale
    t.last_updated = utcnow()
    return Success()


class QuotaEmailConfigResp(JobResp):
    account: str | None = Field(None, description="The configured account's id.")
    templatename: str | None = Field(None, description="The template's name.")
    enabled: bool | None = Field(None, description="Whether the template is enabled.")
    minbalance: float | None = Field(None, description="The configured account's min balance.")


class QuotaConfigureEmailParams(Params):
    accountid: Annotated[str, Ref("Account")] = Field(description="Account ID for which to configure quota template "
                                                      "email or min balance")
    templatename: str | None = Field(None, description="Quota email template name which should be configured")
    enable: bool | None = Field(None, description="If the quota email template should be enabled")
    minbalance: float | None = Field(None, description="New quota account min balance")


@api_command("quotaConfigureEmail", params=QuotaConfigureEmailParams, result_key="quotaconfigureemail",
             response=QuotaEmailConfigResp, roles=DOMAIN_ADMIN, event="QUOTA.EMAIL.CONFIGURE", entity="Account",
             since="4.20.0.0", description="Configure a quota email template")
def quota_configure_email(ctx: CallContext, p: QuotaConfigureEmailParams) -> QuotaEmailConfigResp:
    s = ctx.session
    acct: Account = ctx.refs["accountid"]
    qa = s.get(QuotaAccount, acct.id)
    if qa is None:
        raise ParamError("You must have the quota enabled for this account to configure quota emails.")
    if p.templatename is None and p.minbalance is None:
        raise ParamError("You should inform at least the 'minbalance' or both the 'templatename' and 'enable' "
                         "parameters.")
    if (p.templatename is None) != (p.enable is None):
        raise ParamError("Parameter 'enable' must be informed along with 'templatename'.")
    if p.minbalance is not None:
        qa.quota_min_balance = Decimal(str(p.minbalance))
    out = QuotaEmailConfigResp(minbalance=p.minbalance)
    if p.templatename is not None:
        found = quota.email_templates(s, p.templatename, write=True)
        if not found:
            raise ParamError(f"Could not find template with name [{p.templatename}].")
        cfg = s.get(QuotaEmailConfiguration, (acct.id, found[0].id))
        if cfg is None:
            cfg = QuotaEmailConfiguration(account_id=acct.id, email_template_id=found[0].id, enabled=bool(p.enable))
            s.add(cfg)
        cfg.enabled = bool(p.enable)
        out = QuotaEmailConfigResp(account=acct.uuid, templatename=found[0].template_name, enabled=cfg.enabled,
                                   minbalance=p.minbalance)
    s.flush()
    return out


class QuotaListEmailConfigParams(Params):
    accountid: Annotated[str, Ref("Account", "read")] = Field(description="ID of the account for which to list "
                                                              "quota template email configurations")


@api_command("quotaListEmailConfiguration", params=QuotaListEmailConfigParams, result_key="quotaconfigureemail",
             response=QuotaEmailConfigResp, since="4.20.0.0", read_only=True,
             description="List quota email template configurations")
def quota_list_email_configuration(ctx: CallContext, p: QuotaListEmailConfigParams) -> ListResult:
    s = ctx.session
    acct: Account = ctx.refs["accountid"]
    qa = s.get(QuotaAccount, acct.id)
    rows = list(s.execute(select(QuotaEmailConfiguration, QuotaEmailTemplate).join(
        QuotaEmailTemplate, QuotaEmailTemplate.id == QuotaEmailConfiguration.email_template_id).where(
        QuotaEmailConfiguration.account_id == acct.id)))
    items = [QuotaEmailConfigResp(account=acct.uuid, templatename=t.template_name, enabled=c.enabled,
                                  minbalance=float(qa.quota_min_balance) if qa else None) for c, t in rows]
    return ListResult(items, len(items))


# --------------------------------------------------------------------------- preset variables, activation


class QuotaPresetVariableResp(JobResp):
    variable: str = Field(description="variable")
    description: str = Field(description="description")


class QuotaPresetVariablesParams(Params):
    usagetype: int = Field(description="The usage type for which the preset variables will be retrieved.")


@api_command("quotaPresetVariablesList", params=QuotaPresetVariablesParams, result_key="variables",
             response=QuotaPresetVariableResp, since="4.20", read_only=True,
             description="List the preset variables available for using in the Quota tariff activation rules "
             "given the usage type.")
def quota_preset_variables_list(ctx: CallContext, p: QuotaPresetVariablesParams) -> ListResult:
    items = [QuotaPresetVariableResp(variable=v, description=d) for v, d in quota.preset_variables(p.usagetype)]
    return ListResult(items, len(items))


class QuotaValidateRuleResp(JobResp):
    activationrule: str = Field(description="The validated activation rule.")
    quotatype: str = Field(description="The Quota usage type used to validate the activation rule.")
    isvalid: bool = Field(description="Whether the activation rule is valid.")
    message: str = Field(description="The reason whether the activation rule is valid or not.")


class QuotaValidateRuleParams(Params):
    activationrule: Annotated[str, _LONG_TEXT] = Field(description="Quota tariff's activation rule to validate. "
                                                       "The activation rule is valid if it has no syntax errors and "
                                                       "all variables are compatible with the given usage type.")
    usagetype: int = Field(description="The Quota usage type used to validate the activation rule.")


@api_command("quotaValidateActivationRule", params=QuotaValidateRuleParams, result_key="validactivationrule",
             response=QuotaValidateRuleResp, since="4.20.0", read_only=True,
             description="Validates if the given activation rule is valid for the informed usage type.")
def quota_validate_activation_rule(ctx: CallContext, p: QuotaValidateRuleParams) -> QuotaValidateRuleResp:
    t = quota.quota_type(p.usagetype)
    ok, message = quota.validate_rule(p.activationrule, p.usagetype)
    return QuotaValidateRuleResp(activationrule=p.activationrule, quotatype=t.name, isvalid=ok, message=message)
