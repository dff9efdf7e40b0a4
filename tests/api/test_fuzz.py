"""Generated hostile requests (tests/api/fuzz_requests.py, driven by the command registry) against the in-process
app and a served instance: every reply is a well-formed CloudStack envelope, never a server fault (500/530) for
bad input, never internal text; the log holds no traceback; the HTTP layer's refusals are envelopes too.

Bounded for CI (a few thousand requests, derandomized so a failure is reproducible); bench/fuzz_api.py runs the
same generator for 10,000 requests with fresh randomness.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.api import fuzz_requests as fz
from tests.conftest import Served

pytestmark = [pytest.mark.api, pytest.mark.slow]

IN_PROCESS_EXAMPLES = {"sqlite": 1000, "mariadb": 600}
SERVED_EXAMPLES = 600


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def _send(http: Any, pairs: list[tuple[str, str]], post: bool) -> tuple[int, dict[str, str], bytes]:
    query = urlencode(pairs, quote_via=quote)
    if post or len(query) > 60_000:  # httpx refuses longer URLs (the raw requests send those)
        r = http.post("/client/api", content=query, headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        r = http.get("/client/api?" + query)
    return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content


def test_generated_requests_in_process(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    known, config_names = fz.known_ids(server.backend.url)
    specs = fz.fuzzable_commands()
    http = server.api.integration_api.http
    problems: list[str] = []
    caplog.set_level(logging.WARNING)

    @fuzz_settings(IN_PROCESS_EXAMPLES[server.backend.name])
    @given(pairs=fz.api_request(known, config_names, specs), post=st.booleans())
    def run(pairs: list[tuple[str, str]], post: bool) -> None:
        status, headers, body = _send(http, pairs, post)
        problems.extend(f"{p} <- {fz.pairs_summary(pairs)}" for p in fz.reply_problems(status, headers, body))

    run()
    assert not problems, "\n".join(problems[:20])
    failures = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not failures, "\n".join(f"{r.name}: {r.getMessage()}" for r in failures[:10])


def test_generated_requests_served(served_sqlite: Served) -> None:
    srv = served_sqlite
    known, config_names = fz.known_ids(srv.db_url)
    specs = fz.fuzzable_commands()
    problems: list[str] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.integration_port}", timeout=60) as http:

        @fuzz_settings(SERVED_EXAMPLES)
        @given(pairs=fz.api_request(known, config_names, specs), post=st.booleans())
        def run(pairs: list[tuple[str, str]], post: bool) -> None:
            try:
                status, headers, body = _send(http, pairs, post)
            except httpx.TransportError as exc:
                problems.append(f"no reply ({type(exc).__name__}) <- {fz.pairs_summary(pairs)}")
                return
            problems.extend(f"{p} <- {fz.pairs_summary(pairs)}" for p in fz.reply_problems(status, headers, body))

        run()
    for port in (srv.api_port, srv.integration_port):
        for raw in fz.RAW_REQUESTS:
            reply = fz.raw_exchange(port, raw)
            if reply is None:
                problems.append(f"port {port}: no reply to {raw[:60]!r}")
                continue
            problems.extend(f"port {port}: {p} <- {raw[:60]!r}" for p in fz.reply_problems(*reply))
    assert not problems, "\n".join(problems[:20])
    assert not fz.traceback_lines(srv.log_path.read_text(errors="replace")), srv.log()
