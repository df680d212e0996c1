"""A git remote that accepts TCP connections and never answers (issue 22 item 2): 127.0.0.1, a
free port, stopped with the test. It reads what the client sends and notes when the client
closes its side, so a test can see git's helpers were really ended."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Stalled:
    port: int
    accepted: int = 0
    closed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    everyone_left: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.everyone_left = threading.Condition(self.lock)

    def wait_until_all_closed(self, timeout_s: float = 120.0) -> bool:
        with self.everyone_left:
            return self.everyone_left.wait_for(
                lambda: self.accepted > 0 and self.closed == self.accepted, timeout=timeout_s
            )


@contextlib.contextmanager
def stalled_remote() -> Iterator[Stalled]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    state = Stalled(port=listener.getsockname()[1])
    connections: list[socket.socket] = []
    stop = threading.Event()

    def hold(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while conn.recv(65536):  # read the request, answer nothing
                pass
        with state.everyone_left:
            state.closed += 1
            state.everyone_left.notify_all()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with state.lock:
                state.accepted += 1
            connections.append(conn)
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield state
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        acceptor.join(timeout=30)
