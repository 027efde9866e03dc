"""A DNS server on loopback for the tests (UDP and TCP, on one free port), answering from a
table of records the test fills in: `coursemail doctor` reads real DNS answers, never the
internet's. Built on dnspython's message parsing; unknown names get NXDOMAIN."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections import defaultdict

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tests.support.smtp import free_port


class Zone:
    """Records by (name, type): ``zone.add("example.test", "TXT", '"v=spf1 -all"')``."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(self, name: str, kind: str, value: str) -> None:
        """A TXT value is given plain (quoted here, in 255-byte strings)."""
        if kind.upper() == "TXT" and not value.startswith('"'):
            value = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
        self.records[(name.rstrip(".").lower() + ".", kind.upper())].append(value)

    def clear(self, name: str, kind: str) -> None:
        self.records.pop((name.rstrip(".").lower() + ".", kind.upper()), None)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        values = self.records.get((name, kind))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, kind, values)
            )
        elif not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()


class _UDP(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(self.server.zone.answer(data), self.client_address)  # type: ignore[attr-defined]


class _TCP(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        size = int.from_bytes(self.request.recv(2), "big")
        answer = self.server.zone.answer(self.request.recv(size))  # type: ignore[attr-defined]
        self.request.sendall(len(answer).to_bytes(2, "big") + answer)


class DNSServer:
    """``with DNSServer() as server: server.zone.add(...); server.address``"""

    def __init__(self) -> None:
        self.zone = Zone()
        self.port = free_port()
        self._udp = socketserver.ThreadingUDPServer(("127.0.0.1", self.port), _UDP)
        self._tcp = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), _TCP)
        for server in (self._udp, self._tcp):
            server.zone = self.zone  # type: ignore[attr-defined]
            server.daemon_threads = True

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DNSServer:
        for server in (self._udp, self._tcp):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()


def resolves(address: str) -> bool:
    """Whether a name server answers at ``address`` (a quick check for the tests)."""
    host, _, port = address.partition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        query = dns.message.make_query("example.test.", "A")
        sock.sendto(query.to_wire(), (host, int(port)))
        return bool(sock.recv(4096))
