"""Adds the index tansu 0.6.0's sqlite schema lacks.

tansu reads a fetched record's headers with a join on header (topition, offset_id),
and its DDL gives that table no index: every record fetched scans every header the
broker has ever stored. Consumers stall once a few tens of thousands of headers exist
(fetches time out). The index turns that scan into a lookup; tansu is unaware of it.
Safe to run again and while the broker runs.

usage: tansu_index.py PATH/TO/tansu.db
"""

import sqlite3
import sys


def main() -> int:
    path = sys.argv[1]
    db = sqlite3.connect(path, timeout=30)
    tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
    if "header" not in tables:
        print(f"{path}: no header table yet (has tansu started on it?)", file=sys.stderr)
        return 1
    db.execute("create index if not exists ledgerstream_header_record on header (topition, offset_id)")
    db.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
