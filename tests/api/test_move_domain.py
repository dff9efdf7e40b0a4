"""moveDomain: a domain moves with its subtree under a new parent; its accounts keep working there."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient

pytestmark = pytest.mark.api


def test_move_domain(api: ApiClient) -> None:
    root = api("listDomains", name="ROOT")["domain"][0]["id"]
    sales = api("createDomain", name="sales")["domain"]
    emea = api("createDomain", name="emea", parentdomainid=sales["id"])["domain"]
    paris = api("createDomain", name="paris", parentdomainid=emea["id"])["domain"]
    ops = api("createDomain", name="ops")["domain"]
    acct = api.new_account(name="seller", domainid=paris["id"])

    moved = api("moveDomain", domainid=emea["id"], parentdomainid=ops["id"])["domain"]
    assert (moved["id"], moved["path"], moved["level"], moved["parentdomainid"], moved["parentdomainname"]) == (
        emea["id"], "ROOT/ops/emea", 2, ops["id"], "ops")
    child = api("listDomains", id=paris["id"])["domain"][0]
    assert (child["path"], child["level"]) == ("ROOT/ops/emea/paris", 3)
    assert [d["id"] for d in api("listDomainChildren", id=sales["id"]).get("domain", [])] == []
    assert {d["id"] for d in api("listDomainChildren", id=ops["id"], isrecursive=True)["domain"]} == {
        emea["id"], paris["id"]}
    user = api.client_for(acct)
    mine = user("listAccounts")["account"][0]  # the account stays in its domain, now under ops
    assert (mine["domainid"], mine["domainpath"]) == (paris["id"], "ROOT/ops/emea/paris")

    for params, text in (
        ({"domainid": root, "parentdomainid": ops["id"]}, "The domain to be moved cannot be the ROOT domain."),
        ({"domainid": ops["id"], "parentdomainid": ops["id"]},
         "The domain to be moved and the new parent domain cannot be the same."),
        ({"domainid": emea["id"], "parentdomainid": ops["id"]},
         f"The current parent domain of the domain to be moved is equal to the new parent domain [{ops['id']}]."),
        ({"domainid": ops["id"], "parentdomainid": paris["id"]},
         "The new parent domain of the domain cannot be one of its children."),
    ):
        status, err = api.error("moveDomain", params)
        assert (status, err["errortext"]) == (431, text), params
    api("createDomain", name="emea", parentdomainid=sales["id"])
    status, err = api.error("moveDomain", domainid=emea["id"], parentdomainid=sales["id"])
    assert (status, err["errortext"]) == (431, f"Domain with name emea already exists for the parent id={sales['id']}")
    assert user.error("moveDomain", domainid=emea["id"], parentdomainid=root)[0] == 401
