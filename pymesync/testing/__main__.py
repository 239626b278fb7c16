"""``python -m pymesync.testing [--port N] [--seed-data] [--db FILE]``: run an emulator."""

from __future__ import annotations

import argparse

from .server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m pymesync.testing", description="Run a TimeSync server emulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--prefix", default="/v0", help="API prefix (default /v0)")
    parser.add_argument("--seed-data", action="store_true", help="add the seed data")
    parser.add_argument("--db", default=None, help="SQLite file to keep data across restarts")
    args = parser.parse_args(argv)
    serve(port=args.port, seed_data=args.seed_data, db=args.db, prefix=args.prefix, host=args.host)


if __name__ == "__main__":
    main()
