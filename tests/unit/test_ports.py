"""appliance.ports: which process holds a TCP port (what `devcloud up` names before it starts a server)."""

from __future__ import annotations

import os
import socket

import pytest

from appliance import ports

pytestmark = pytest.mark.unit


def test_a_listening_socket_is_in_use_and_names_its_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert ports.in_use(port)
        assert [pid for pid, _ in ports.listeners(port)] == [os.getpid()]
        assert f"(pid {os.getpid()})" in ports.holder(port)
        assert "python" in ports.holder(port)


def test_a_free_port_is_not_in_use() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert not ports.in_use(port)
    assert ports.listeners(port) == []
