"""Quota (plugins/database/quota): tariffs with CloudStack's rules and texts, credits and balances, usage records
priced by the tariffs in force (quotaStatement, quotaSummary), email templates and their per-account
configuration, preset variables and activation-rule checks."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from management.services.plugins import quota
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@dataclass
class Record:
    """A usage record as the usage service writes it (the attributes quota reads)."""

    id: int
    account_id: int
    domain_id: int
    zone_id: int | None
    usage_type: int
    raw_usage: float
    size: int | None
    start_date: datetime
    end_date: datetime


def ids_of(server: InProcess, account_uuid: str) -> tuple[int, int]:
    from sqlalchemy import select

    from management.models.identity import Account

    with server.server.runtime.db.session(write=False) as s:
        a = s.scalars(select(Account).where(Account.uuid == account_uuid)).one()
        return a.id, a.domain_id


def test_quota_is_enabled_follows_the_setting(api: ApiClient) -> None:
    assert api("quotaIsEnabled") == {"quotaenabled": {"isenabled": False}}
    api("updateConfiguration", name="quota.enable.service", value="true")
    assert api("quotaIsEnabled") == {"quotaenabled": {"isenabled": True}}


def test_tariff_lifecycle_rules_and_texts(api: ApiClient) -> None:
    t = api("quotaTariffCreate", name="vm-hours", usagetype=1, value=30, description="running VMs")["quotatariff"]
    assert (t["name"], t["usageType"], t["usageName"], t["usageUnit"], t["currency"]) == (
        "vm-hours", 1, "RUNNING_VM", "Compute*Month", "$")
    assert (Decimal(str(t["tariffValue"])), t["usageTypeDescription"], t["description"]) == (
        Decimal(30), "Running Vm Usage", "running VMs")

    status, err = api.error("quotaTariffCreate", name="vm-hours", usagetype=1, value=1)
    assert (status, err["errortext"]) == (431, "A quota tariff with name [vm-hours] already exist.")
    status, err = api.error("quotaTariffCreate", name="bad-type", usagetype=999, value=1)
    assert (status, err["errortext"]) == (431, "There is no usage type with value [999].")
    status, err = api.error("quotaTariffCreate", name="ruled", usagetype=1, value=1, activationrule="true")
    assert (status, err["errortext"]) == (531, "Quota Tariff Activation Rule cannot be set, as Javascript "
                                               "interpretation is disabled in the configuration.")
    status, err = api.error("quotaTariffCreate", name="past", usagetype=1, value=1, startdate="2001-01-01")
    assert status == 431 and err["errortext"].startswith("The value passed as Quota tariff's start date is in the "
                                                         "past")
    status, err = api.error("quotaTariffCreate", name="baddate", usagetype=1, value=1, startdate="yesterday")
    assert status == 431

    u = api("quotaTariffUpdate", name="vm-hours", value=45)["quotatariff"]
    assert Decimal(str(u["tariffValue"])) == Decimal(45) and u["id"] != t["id"]  # history: a new row
    listed = api("quotaTariffList", name="vm-hours")
    assert listed["count"] == 1 and listed["quotatariff"][0]["id"] == u["id"]
    everything = api("quotaTariffList", name="vm-hours", listall=True)["quotatariff"]
    assert {x["id"] for x in everything} == {t["id"], u["id"]}
    assert [x["id"] for x in api("quotaTariffList", listonlyremoved=True)["quotatariff"]] == [t["id"]]
    status, err = api.error("quotaTariffUpdate", name="nothing-here", value=1)
    assert (status, err["errortext"]) == (431, "There is no quota tariffs with name [nothing-here].")

    assert api("quotaTariffDelete", id=u["id"]) == {"success": True}
    assert api("quotaTariffList") == {}
    status, err = api.error("quotaTariffDelete", id="00000000-0000-0000-0000-000000000000")
    assert (status, err["errortext"]) == (431, "Quota tariff with the provided UUID does not exist.")


def test_users_may_list_tariffs_but_not_change_them(api: ApiClient) -> None:
    api("quotaTariffCreate", name="ips", usagetype=3, value=2)
    user = api.client_for(api.new_account(name="quser"))
    assert [t["name"] for t in user("quotaTariffList")["quotatariff"]] == ["ips"]
    status, _ = user.error("quotaTariffCreate", name="mine", usagetype=1, value=0)
    assert status == 401  # not among the user role's commands: CloudStack answers as for an unknown command


def test_usage_is_priced_by_tariffs_and_shows_in_statement_balance_summary(api: ApiClient,
                                                                          server: InProcess) -> None:
    dom = api("listDomains", name="ROOT")["domain"][0]
    acct = api.new_account(name="payer")
    account_id, domain_id = ids_of(server, acct["id"])
    # Records start after the tariffs (a tariff never prices what happened before it); one VM-month costs the
    # month's hours, so an hour of a running VM costs 1.
    start = datetime.now(UTC) + timedelta(minutes=1)
    month_hours = calendar.monthrange(start.year, start.month)[1] * 24
    api("quotaTariffCreate", name="vm", usagetype=1, value=month_hours)
    api("quotaTariffCreate", name="disk", usagetype=6, value=100)      # 100 per GiB-month

    credit = api("quotaCredits", account="payer", domainid=dom["id"], value=500)["quotacredits"]
    assert Decimal(str(credit["credit"])) == Decimal(500) and credit["creditorusername"] == "admin"
    bal = api("quotaBalance", account="payer", domainid=dom["id"])["balance"]
    assert Decimal(str(bal["startquota"])) == Decimal(500) and bal["currency"] == "$"

    # A VM running 24 h and a 2 GiB volume kept half the month: 24 + 100.
    half = month_hours / 2
    records = [Record(1, account_id, domain_id, None, 1, 24.0, None, start, start + timedelta(hours=24)),
               Record(2, account_id, domain_id, None, 6, half, 2 * 1024**3, start, start + timedelta(hours=half))]
    with server.server.runtime.db.session() as s:
        assert quota.apply_usage(s, records) == 2
        assert quota.apply_usage(s, records) == 0  # priced once
    api("quotaUpdate")

    st = api("quotaStatement", account="payer", domainid=dom["id"], startdate=start.date().isoformat(),
             enddate=(start + timedelta(hours=half)).date().isoformat())["statement"]
    by_type = {u["name"]: Decimal(str(u["quota"])) for u in st["quotausage"]}
    assert by_type["RUNNING_VM"] == Decimal(24) and by_type["VOLUME"] == Decimal(100)
    assert Decimal(str(st["totalquota"])) == Decimal(124) and st["account"] == "payer"
    status, err = api.error("quotaStatement", account="payer", domainid=dom["id"], startdate="2020-01-01",
                            enddate="2020-01-31")
    assert (status, err["errortext"]) == (431, "There is no usage data found for period mentioned.")

    bal = api("quotaBalance", account="payer", domainid=dom["id"])["balance"]
    assert Decimal(str(bal["startquota"])) == Decimal(376)  # 500 credited - 124 used
    summary = api("quotaSummary", account="payer", domainid=dom["id"])["summary"]
    assert summary[0]["account"] == "payer" and Decimal(str(summary[0]["balance"])) == Decimal(376)
    assert "payer" in [x["account"] for x in api("quotaSummary")["summary"]]
    credits = api("quotaCreditsList", accountid=acct["id"])["credit"]
    assert [Decimal(str(c["credit"])) for c in credits] == [Decimal(500)]

    # The account sees its own summary, not someone else's.
    user = api.client_for(acct)
    assert [x["account"] for x in user("quotaSummary")["summary"]] == ["payer"]
    other = api.new_account(name="nosy")
    status, _ = api.client_for(other).error("quotaBalance", account="payer", domainid=dom["id"])
    assert status == 531


def test_enforcement_locks_and_credits_unlock(api: ApiClient, server: InProcess) -> None:
    dom = api("listDomains", name="ROOT")["domain"][0]
    acct = api.new_account(name="spender")
    account_id, domain_id = ids_of(server, acct["id"])
    api("updateConfiguration", name="quota.enable.enforcement", value="true")
    start = datetime.now(UTC) + timedelta(minutes=1)
    api("quotaTariffCreate", name="vm", usagetype=1, value=calendar.monthrange(start.year, start.month)[1] * 24)
    api("quotaCredits", account="spender", domainid=dom["id"], value=10, quota_enforce=True)
    with server.server.runtime.db.session() as s:
        quota.apply_usage(s, [Record(7, account_id, domain_id, None, 1, 48.0, None, start,
                                     start + timedelta(hours=48))])
    api("quotaUpdate")
    assert api("listAccounts", id=acct["id"])["account"][0]["state"] == "locked"
    api("quotaCredits", account="spender", domainid=dom["id"], value=100)
    assert api("listAccounts", id=acct["id"])["account"][0]["state"] == "enabled"


def test_email_templates_and_configuration(api: ApiClient) -> None:
    names = [t["templatetype"] for t in api("quotaEmailTemplateList")["quotaemailtemplate"]]
    assert names == ["QUOTA_LOW", "QUOTA_EMPTY", "QUOTA_UNLOCK_ACCOUNT", "QUOTA_STATEMENT"]
    assert api("quotaEmailTemplateUpdate", templatetype="QUOTA_LOW", templatesubject="Low on ${accountName}",
               templatebody="Top up") == {"success": True}
    (low,) = api("quotaEmailTemplateList", templatetype="QUOTA_LOW")["quotaemailtemplate"]
    assert (low["templatesubject"], low["templatebody"]) == ("Low on ${accountName}", "Top up")
    status, err = api.error("quotaEmailTemplateUpdate", templatetype="QUOTA_HIGH", templatesubject="x",
                            templatebody="y")
    assert status == 431 and "QUOTA_HIGH" in err["errortext"]

    acct = api.new_account(name="mailme")
    status, err = api.error("quotaConfigureEmail", accountid=acct["id"], templatename="QUOTA_LOW", enable=False)
    assert (status, err["errortext"]) == (431, "You must have the quota enabled for this account to configure "
                                               "quota emails.")
    dom = api("listDomains", name="ROOT")["domain"][0]
    api("quotaCredits", account="mailme", domainid=dom["id"], value=1)
    cfg = api("quotaConfigureEmail", accountid=acct["id"], templatename="QUOTA_LOW",
              enable=False)["quotaconfigureemail"]
    assert (cfg["templatename"], cfg["enabled"]) == ("QUOTA_LOW", False)
    status, err = api.error("quotaConfigureEmail", accountid=acct["id"], templatename="QUOTA_LOW")
    assert (status, err["errortext"]) == (431, "Parameter 'enable' must be informed along with 'templatename'.")
    listed = api("quotaListEmailConfiguration", accountid=acct["id"])["quotaconfigureemail"]
    assert [(x["templatename"], x["enabled"]) for x in listed] == [("QUOTA_LOW", False)]


def test_preset_variables_and_rule_validation(api: ApiClient) -> None:
    volume_vars = {v["variable"] for v in api("quotaPresetVariablesList", usagetype=6)["variables"]}
    assert {"value.diskOffering.id", "value.size", "account.name"} <= volume_vars
    assert "value.host.id" not in volume_vars
    status, err = api.error("quotaPresetVariablesList", usagetype=999)
    assert (status, err["errortext"]) == (431, "There is no usage type with value [999].")
    ok = api("quotaValidateActivationRule", usagetype=6,
             activationrule="value.size > 1024 && account.name == 'x'")["validactivationrule"]
    assert (ok["isvalid"], ok["quotatype"]) == (True, "VOLUME")
    bad = api("quotaValidateActivationRule", usagetype=6,
              activationrule="value.host.id == 'h1'")["validactivationrule"]
    assert bad["isvalid"] is False and "value.host.id" in bad["message"]

