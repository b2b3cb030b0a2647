"""Runs SQL on chDB (current ClickHouse's engine, in-process) for the tests.

Usage: python driver.py DATA_DIR (the venv of infra/local/chdb.sh).

Standard input: one JSON object a line, {"sql": "...", "format": "JSONCompact"}
("format" may be left out for a statement that returns no rows). Standard output:
first {"chdb": "<chdb version>", "clickhouse": "<version()>"}, then one line per
statement: {"ok": true, "answer": <the JSONCompact answer, or null>} or
{"ok": false, "error": "<the server's message>"}. Every statement runs in one
session, with its data under DATA_DIR, so `USE` and the tables carry over.
"""

import json
import sys

import chdb
from chdb import session


def answer(line: str, db: session.Session) -> dict:
    request = json.loads(line)
    fmt = request.get("format")
    try:
        result = db.query(request["sql"], fmt or "TabSeparated")
    except Exception as error:  # chDB raises its server's errors as exceptions
        return {"ok": False, "error": str(error)}
    text = result.bytes().decode("utf-8")
    if fmt == "JSONCompact":
        return {"ok": True, "answer": json.loads(text) if text.strip() else None}
    return {"ok": True, "answer": None}


def main() -> None:
    db = session.Session(sys.argv[1])
    version = db.query("SELECT version()", "TabSeparated").bytes().decode().strip()
    print(json.dumps({"chdb": chdb.__version__, "clickhouse": version}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(answer(line, db)), flush=True)
    db.close()


if __name__ == "__main__":
    main()
