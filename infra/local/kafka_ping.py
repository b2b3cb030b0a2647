#!/usr/bin/env python3
"""Exit 0 when a Kafka-protocol broker answers ApiVersions and Metadata requests.

A TCP connect only proves a port is open. ApiVersions proves the Kafka protocol
answers; Metadata proves the broker's storage does too (a broker whose storage
failed can still answer ApiVersions).
Usage: kafka_ping.py HOST:PORT [TIMEOUT_SECONDS]
"""
import socket
import struct
import sys

CORRELATION_ID = 0x1ED6E5


def request(sock: socket.socket, api_key: int, correlation_id: int, body: bytes) -> bytes:
    """Sends a version-0 request; returns the response after its correlation id."""
    client_id = b"ledgerstream-ping"
    header = struct.pack(">hhih", api_key, 0, correlation_id, len(client_id)) + client_id
    message = header + body
    sock.sendall(struct.pack(">i", len(message)) + message)
    size = struct.unpack(">i", read_exactly(sock, 4))[0]
    response = read_exactly(sock, size)
    (answered,) = struct.unpack(">i", response[:4])
    if answered != correlation_id:
        raise ValueError(f"answer carried correlation id {answered}, not {correlation_id}")
    return response[4:]


def read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def ping(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        # ApiVersions (key 18) v0: no body; the answer starts with an error code.
        answer = request(sock, 18, CORRELATION_ID, b"")
        (error_code,) = struct.unpack(">h", answer[:2])
        if error_code != 0:
            raise ValueError(f"ApiVersions answered error code {error_code}")
        # Metadata (key 3) v0 for no topic in particular: the answer starts with the
        # broker list, which must not be empty.
        answer = request(sock, 3, CORRELATION_ID + 1, struct.pack(">i", 0))
        (brokers,) = struct.unpack(">i", answer[:4])
        if brokers < 1:
            raise ValueError("Metadata lists no broker")


def main() -> int:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    host, _, port = address.rpartition(":")
    try:
        ping(host or "127.0.0.1", int(port), timeout)
    except (OSError, ValueError) as error:
        print(f"kafka_ping: {address}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
