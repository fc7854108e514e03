"""A loopback TCP forwarder that announces a non-local client to Dovecot with the HAProxy v1 protocol."""

from __future__ import annotations

import socket
import threading

HOST = "127.0.0.1"
# Dovecot treats a client whose address equals the server's as secure and would accept a cleartext
# LOGIN/AUTH from 127.0.0.1; the plain ports therefore go through a forwarder that announces this
# (documentation-range) address with the HAProxy protocol, so Dovecot insists on STARTTLS.
PROXIED_CLIENT_IP = "192.0.2.10"


class ProxyForwarder:
    """Forwards a loopback port to Dovecot, prefixing each connection with a HAProxy v1 header."""

    def __init__(self, port: int, backend_port: int, client_ip: str = PROXIED_CLIENT_IP) -> None:
        self.port, self.backend_port, self.client_ip = port, backend_port, client_ip
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on the port (the same one after a restart) and accept in a daemon thread."""
        self._listener = socket.create_server((HOST, self.port))
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the listener and every forwarded connection, so clients see the port as down."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _shutdown(listener)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            _shutdown(conn)
            conn.close()
        if self._thread is not None:
            self._thread.join(5)

    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                client, (_, client_port) = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client, client_port), daemon=True).start()

    def _connect(self, client: socket.socket, client_port: int) -> None:
        try:
            backend = socket.create_connection((HOST, self.backend_port), timeout=5)
            backend.settimeout(None)
            backend.sendall(f"PROXY TCP4 {self.client_ip} {HOST} {client_port} {self.port}\r\n".encode())
        except OSError:
            client.close()
            return
        pair, pumps_left = (client, backend), [2]
        with self._lock:
            self._conns.update(pair)

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(262144):
                    sink.sendall(data)
            except OSError:
                pass
            _shutdown(sink, socket.SHUT_WR)
            with self._lock:
                pumps_left[0] -= 1
                if pumps_left[0]:
                    return
                self._conns.difference_update(pair)
            for sock in pair:
                sock.close()

        threading.Thread(target=pump, args=(backend, client), daemon=True).start()
        pump(client, backend)


def _shutdown(sock: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass


def proxied_greeting(port: int, prefix: bytes, timeout: float) -> None:
    """Read the greeting of a HAProxy-protocol listener directly, sending the header ourselves."""
    with socket.create_connection((HOST, port), timeout=max(timeout, 0.05)) as s:
        s.sendall(f"PROXY TCP4 {PROXIED_CLIENT_IP} {HOST} 1 {port}\r\n".encode())
        greeting = s.recv(512)
    if not greeting.startswith(prefix):
        raise TimeoutError(f"unexpected greeting {greeting!r}")
