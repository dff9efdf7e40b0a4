"""A small RFB 3.8 server standing in for a guest's VNC console on the simulator: it draws a coloured
framebuffer with a white block per key typed, and records the keys it received (noVNC -> proxy -> here)."""

from __future__ import annotations

import socket
import struct
import threading


class FakeVnc:
    def __init__(self, width: int = 320, height: int = 200) -> None:
        self.width, self.height = width, height
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.keys: list[int] = []
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def typed(self) -> str:
        return "".join(chr(k) if k < 256 else ("\n" if k == 0xFF0D else "") for k in self.keys)

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def _frame(self, shifts: tuple[int, int, int], big_endian: bool) -> bytes:
        rs, gs, bs = shifts
        fmt = ">I" if big_endian else "<I"
        bg = struct.pack(fmt, (0x20 << rs) | (0x60 << gs) | (0xA0 << bs))
        white = struct.pack(fmt, (0xFF << rs) | (0xFF << gs) | (0xFF << bs))
        typed = sum(1 for k in self.keys if k < 256)
        rows = []
        for y in range(self.height):
            row = bytearray(bg * self.width)
            if 20 <= y < 40:
                for i in range(min(typed, 25)):
                    x0 = 10 + i * 12
                    row[x0 * 4:(x0 + 8) * 4] = white * 8
            rows.append(bytes(row))
        head = struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, self.width, self.height, 0)
        return head + b"".join(rows)

    def _serve(self, conn: socket.socket) -> None:
        shifts, big = (16, 8, 0), False
        pending = False
        try:
            conn.sendall(b"RFB 003.008\n")
            self._read(conn, 12)
            conn.sendall(bytes([1, 1]))  # one security type: None
            self._read(conn, 1)
            conn.sendall(struct.pack(">I", 0))
            self._read(conn, 1)  # ClientInit
            name = b"devcloud fake guest"
            pf = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
            conn.sendall(struct.pack(">HH", self.width, self.height) + pf + struct.pack(">I", len(name)) + name)
            while True:
                t = self._read(conn, 1)[0]
                if t == 0:
                    pfb = self._read(conn, 19)[3:]
                    big = bool(pfb[2])
                    shifts = (pfb[10], pfb[11], pfb[12])
                elif t == 2:
                    _, n = struct.unpack(">BH", self._read(conn, 3))
                    self._read(conn, 4 * n)
                elif t == 3:
                    incremental = self._read(conn, 9)[0]
                    if incremental:
                        pending = True
                    else:
                        conn.sendall(self._frame(shifts, big))
                elif t == 4:
                    down, key = struct.unpack(">Bxxi", self._read(conn, 7))
                    if down:
                        self.keys.append(key)
                        if pending:
                            pending = False
                            conn.sendall(self._frame(shifts, big))
                elif t == 5:
                    self._read(conn, 5)
                elif t == 6:
                    (n,) = struct.unpack(">3xI", self._read(conn, 7))
                    self._read(conn, n)
                else:
                    return
        except (ConnectionError, OSError):
            pass
        finally:
            conn.close()
