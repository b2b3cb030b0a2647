#!/usr/bin/env python3
"""Exit 0 when a Kafka-protocol broker answers an ApiVersions request.

A TCP connect only proves a port is open; this proves the Kafka protocol answers.
Usage: kafka_ping.py HOST:PORT [TIMEOUT_SECONDS]
"""
import socket
import struct
import sys

CORRELATION_ID = 0x1ED6E5


def ping(host: str, port: int, timeout: float) -> None:
    client_id = b"ledgerstream-ping"
    # ApiVersions (key 18), version 0: header only, no body.
    body = struct.pack(">hhih", 18, 0, CORRELATION_ID, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(body)) + body)
        header = b""
        while len(header) < 10:
            chunk = sock.recv(10 - len(header))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            header += chunk
    _size, correlation_id, error_code = struct.unpack(">iih", header)
    if correlation_id != CORRELATION_ID:
        raise ValueError(f"answer carried correlation id {correlation_id}")
    if error_code != 0:
        raise ValueError(f"ApiVersions answered error code {error_code}")


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
