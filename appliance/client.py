"""A small CloudStack API client for the appliance: signed calls, async job polling, CloudStack errors."""

from __future__ import annotations

import time
from typing import Any

import httpx

from management.api.cloudstack.signing import sign


class ApiError(RuntimeError):
    def __init__(self, command: str, status: int, text: str) -> None:
        super().__init__(f"{command}: HTTP {status}: {text}")
        self.command = command
        self.status = status
        self.text = text


class CloudClient:
    def __init__(self, endpoint: str, apikey: str, secret: str, *, timeout: float = 30.0,
                 poll_interval: float = 0.2, job_timeout: float = 600.0) -> None:
        self.endpoint = endpoint
        self.apikey = apikey
        self.secret = secret
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        """One request; returns the object under the response key; ApiError on a CloudStack error."""
        q: dict[str, str] = {"command": command, "response": "json", "apiKey": self.apikey}
        for k, v in params.items():
            if v is None:
                continue
            q[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        q["signature"] = sign(q, self.secret)
        # POST keeps large values (user data) out of URLs, as cs --post does.
        r = self.http.post(self.endpoint, data=q)
        try:
            body = next(iter(r.json().values()))
        except (ValueError, StopIteration):
            raise ApiError(command, r.status_code, r.text[:300]) from None
        if r.status_code != 200:
            raise ApiError(command, r.status_code, body.get("errortext", str(body)))
        return body

    def run(self, command: str, **params: Any) -> dict[str, Any]:
        """Calls an async command and waits for its job; returns the job result object."""
        start = self.call(command, **params)
        jobid = start.get("jobid")
        if not jobid:
            return start
        deadline = time.monotonic() + self.job_timeout
        while True:
            job = self.call("queryAsyncJobResult", jobid=jobid)
            if job["jobstatus"] == 1:
                return job.get("jobresult", {})
            if job["jobstatus"] != 0:
                result = job.get("jobresult", {})
                raise ApiError(command, int(result.get("errorcode", 530)), result.get("errortext", "job failed"))
            if time.monotonic() > deadline:
                raise ApiError(command, 530, f"job {jobid} still running after {self.job_timeout:.0f} s")
            time.sleep(self.poll_interval)

    def items(self, command: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return list(self.call(command, listall=True, **params).get(key, [])) if "list" in command else []

    def one(self, command: str, key: str, **params: Any) -> dict[str, Any] | None:
        found = self.items(command, key, **params)
        return found[0] if found else None
