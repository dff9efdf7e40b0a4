"""Identity extras: role state and importRole, forgotPassword/resetPassword through a real (local) SMTP server,
user two-factor authentication with TOTP codes on login sessions, getCloudIdentifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pyotp
import pytest

from tests.conftest import ApiClient, wait_for

pytestmark = pytest.mark.api


def login(api: ApiClient, username: str, password: str, domain: str = "/") -> tuple[ApiClient, dict[str, Any]]:
    anon = api.anonymous()
    anon.http.cookies.clear()
    r = anon.call("login", method="POST", username=username, password=password, domain=domain)
    assert r.status_code == 200, r.text
    return anon, r.json()["loginresponse"]


def in_session(client: ApiClient, key: str, command: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    r = client.call(command, sessionkey=key, cookies={"sessionkey": key}, **kw)
    (body,) = r.json().values()
    return r.status_code, body


# ---- roles -------------------------------------------------------------------------------------------------------

def test_disable_and_enable_a_role(api: ApiClient) -> None:
    role = api("createRole", name="operators", type="User")["role"]
    assert role["state"] == "ENABLED"
    assert api("disableRole", id=role["id"]) == {"success": True}
    assert [r["id"] for r in api("listRoles", state="DISABLED")["role"]] == [role["id"]]
    status, err = api.error("disableRole", id=role["id"])
    assert (status, err["errortext"]) == (531, "Role is already DISABLED")
    assert api("enableRole", id=role["id"]) == {"success": True}
    assert api("listRoles", id=role["id"])["role"][0]["state"] == "ENABLED"
    assert api("listRoles", state="DISABLED") == {}


def test_import_role_with_rules(api: ApiClient) -> None:
    rules = {"rules[0].rule": "list*", "rules[0].permission": "allow", "rules[0].description": "listing",
             "rules[1].rule": "deleteVirtualMachine", "rules[1].permission": "deny"}
    role = api("importRole", rules, name="auditor", type="User", description="reads only")["role"]
    assert (role["name"], role["type"], role["description"]) == ("auditor", "User", "reads only")
    perms = api("listRolePermissions", roleid=role["id"])["rolepermission"]
    assert [(p["rule"], p["permission"]) for p in perms] == [("list*", "allow"), ("deleteVirtualMachine", "deny")]

    status, err = api.error("importRole", rules, name="auditor", type="User")
    assert (status, err["errortext"]) == (530, "Role already exists")
    again = api("importRole", {"rules[0].rule": "get*", "rules[0].permission": "allow"}, name="auditor",
                type="User", forced=True)["role"]
    assert again["id"] == role["id"]
    assert [p["rule"] for p in api("listRolePermissions", roleid=role["id"])["rolepermission"]] == ["get*"]

    status, err = api.error("importRole", {"rules[0].rule": "list*", "rules[0].permission": "maybe"}, name="x",
                            type="User")
    assert (status, err["errortext"]) == (431, "Invalid permission: maybe provided in rules param")
    status, err = api.error("importRole", {"rules[0].rule": "list*", "rules[0].permission": "allow"}, name="x",
                            type="Boss")
    assert (status, err["errortext"]) == (431, "Invalid role type provided")


# ---- forgotten passwords -----------------------------------------------------------------------------------------

class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one message (the server's `messages` collects them)."""

    def handle(self) -> None:
        self.wfile.write(b"220 localhost ESMTP test\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.messages.append(message_from_bytes(data, policy=policy.default))  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp() -> Iterator[socketserver.ThreadingTCPServer]:
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    srv.messages = []  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_forgot_and_reset_password(api: ApiClient, smtp: socketserver.ThreadingTCPServer) -> None:
    api.new_account(name="forgetful", password="old-secret")
    anon = api.anonymous()
    status, err = anon.error("forgotPassword", username="forgetful")
    assert (status, err["errortext"]) == (531, "user.password.reset.enabled is false. Password reset for the user "
                                               "is not allowed.")
    api("updateConfiguration", name="user.password.reset.enabled", value="true")
    status, err = anon.error("forgotPassword", username="forgetful")
    assert (status, err["errortext"]) == (530, "Failed to reset token and send email. SMTP mail sender is not "
                                               "configured")
    status, err = anon.error("forgotPassword", username="nobody")
    assert (status, err["errortext"]) == (531, "forgot password request failed for user, check if username/domain "
                                               "are correct")

    api("updateConfiguration", name="user.password.reset.smtp.host", value="127.0.0.1")
    api("updateConfiguration", name="user.password.reset.smtp.port", value=str(smtp.server_address[1]))
    assert anon("forgotPassword", username="forgetful") == {"success": True}
    messages = smtp.messages  # type: ignore[attr-defined]
    wait_for(lambda: messages, what="the reset mail")
    mail = messages[0]
    assert mail["To"] == "forgetful@example.org"
    token = re.search(r"token=([0-9a-f-]{36})", mail.get_content())
    assert token is not None

    status, err = anon.error("resetPassword", username="forgetful", token="not-the-token", password="x")
    assert (status, err["errortext"]) == (431, "Invalid reset token for user forgetful")
    assert anon("resetPassword", username="forgetful", token=token.group(1), password="new-secret") == {
        "success": True}
    r = anon.call("login", method="POST", username="forgetful", password="old-secret")
    assert r.status_code == 401
    login(api, "forgetful", "new-secret")
    status, err = anon.error("resetPassword", username="forgetful", token=token.group(1), password="again")
    assert (status, err["errortext"]) == (431, "No reset token found for user forgetful")


# ---- two-factor authentication -----------------------------------------------------------------------------------

def test_two_factor_providers(api: ApiClient) -> None:
    names = [p["name"] for p in api("listUserTwoFactorAuthenticatorProviders")["providers"]]
    assert names == ["totp", "staticpin"]
    assert [p["name"] for p in api("listUserTwoFactorAuthenticatorProviders", name="totp")["providers"]] == ["totp"]


def test_totp_on_login_sessions(api: ApiClient) -> None:
    api.new_account(name="careful", password="pw")
    client, body = login(api, "careful", "pw")
    key = body["sessionkey"]
    status, err = in_session(client, key, "setupUserTwoFactorAuthentication")
    assert (status, err["errortext"]) == (530, "2FA is not enabled for this domain or at global level")
    api("updateConfiguration", name="enable.user.2fa", value="true")

    status, setup = in_session(client, key, "setupUserTwoFactorAuthentication", provider="totp")
    assert status == 200 and setup["setup2fa"]["username"] == "careful"
    totp = pyotp.TOTP(setup["setup2fa"]["secretcode"])
    status, err = in_session(client, key, "validateUserTwoFactorAuthenticationCode", codefor2fa="000000"
                             if totp.now() != "000000" else "111111")
    assert (status, err["errortext"]) == (511, "two-factor authentication code provided is invalid")
    status, ok = in_session(client, key, "validateUserTwoFactorAuthenticationCode", codefor2fa=totp.now())
    assert (status, ok) == (200, {"success": True})

    # From now on a login must pass the code before anything else.
    client, body = login(api, "careful", "pw")
    assert (body["is2faenabled"], body["is2faverified"], body["providerfor2fa"]) == ("true", "false", "totp")
    key = body["sessionkey"]
    status, err = in_session(client, key, "listZones")
    assert status == 511 and err["errortext"].startswith("Unable to process the API request due to :Two factor "
                                                         "authentication 2FA is enabled but not verified")
    assert in_session(client, key, "listApis")[0] == 401  # the refused session is gone

    client, body = login(api, "careful", "pw")
    key = body["sessionkey"]
    # The code just used is not accepted twice; the next step's code is.
    code = totp.at(time.time() + totp.interval)
    status, ok = in_session(client, key, "validateUserTwoFactorAuthenticationCode", codefor2fa=code)
    assert status == 200
    assert in_session(client, key, "listZones")[0] == 200

    # API keys are not subject to it; validating with keys is refused as CloudStack refuses it.
    user = api("listUsers", username="careful", listall=True)["user"][0]
    keys = api("registerUserKeys", id=user["id"])["userkeys"]
    ua = api.as_user(keys["apikey"], keys["secretkey"])
    assert ua.call("listZones").status_code == 200
    status, err = ua.error("validateUserTwoFactorAuthenticationCode", codefor2fa="123456")
    assert (status, err["errortext"]) == (405, "This is an authentication api, cannot be used directly")

    # The user (or an admin) turns it off; logins no longer ask.
    assert ua("setupUserTwoFactorAuthentication", enable=False) == {"setup2fa": {
        "id": user["id"], "username": "careful", "accountid": user["accountid"]}}
    client, body = login(api, "careful", "pw")
    assert body["is2faenabled"] == "false"
    assert in_session(client, body["sessionkey"], "listZones")[0] == 200


def test_static_pin_and_mandated_setup(api: ApiClient) -> None:
    api("updateConfiguration", name="enable.user.2fa", value="true")
    api("updateConfiguration", name="mandate.user.2fa", value="true")
    api.new_account(name="pinned", password="pw")
    client, body = login(api, "pinned", "pw")
    key = body["sessionkey"]
    assert body["is2faenabled"] == "true"
    status, err = in_session(client, key, "listZones")
    assert status == 511 and "Two factor authentication is mandated by admin" in err["errortext"]

    client, body = login(api, "pinned", "pw")
    key = body["sessionkey"]
    status, setup = in_session(client, key, "setupUserTwoFactorAuthentication", provider="staticpin")
    pin = setup["setup2fa"]["secretcode"]
    assert status == 200 and re.fullmatch(r"\d{6}", pin)
    assert in_session(client, key, "validateUserTwoFactorAuthenticationCode", codefor2fa=pin)[0] == 200
    assert in_session(client, key, "listZones")[0] == 200


# ---- getCloudIdentifier ------------------------------------------------------------------------------------------

def test_cloud_identifier_is_signed_with_the_users_secret(api: ApiClient) -> None:
    acct = api.new_account(name="ident")
    out = api.client_for(acct)("getCloudIdentifier", userid=acct["userid"])["cloudidentifier"]
    assert out["userid"] == acct["userid"] and re.fullmatch(r"[0-9a-f-]{36}", out["cloudidentifier"])
    expected = base64.b64encode(hmac.new(acct["secretkey"].encode(), out["cloudidentifier"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert out["signature"] == expected
    again = api("getCloudIdentifier", userid=acct["userid"])["cloudidentifier"]
    assert again["cloudidentifier"] == out["cloudidentifier"]  # one identifier per cloud
    other = api.new_account(name="someone")
    status, _ = api.client_for(other).error("getCloudIdentifier", userid=acct["userid"])
    assert status == 531
