"""Subprocess worker for the multi-process store tests (run as a script, not collected).

python store_worker.py enqueue_loop DB            # enqueue forever, print op_ids
python store_worker.py enqueue_n DB N TAG START   # enqueue N ops at wall time START
python store_worker.py claim_loop DB OWNER START  # claim until the queue is dry
python store_worker.py open_check DB              # open; report if alembic loaded
"""

from __future__ import annotations

import sys
import time
import uuid

ACCOUNT = "http://host/v0|alice"


def payload_for(op_id: str, seq: int) -> dict[str, object]:
    """The payload the enqueue workers write for an op (checked after a kill)."""
    return {"seq": seq, "op_id": op_id, "notes": "x" * (seq % 97), "duration": seq * 60}


def _wait_until(start: float) -> None:
    delay = start - time.time()
    if delay > 0:
        time.sleep(delay)


def main(argv: list[str]) -> int:
    """Run one worker command."""
    command, db = argv[0], argv[1]
    from pymesync.store import NewOperation, Store

    if command == "open_check":
        Store.open(db).close()
        print("alembic" in sys.modules, flush=True)
        return 0
    store = Store.open(db)
    if command == "enqueue_loop":
        print("ready", flush=True)
        seq = 0
        while True:
            op_id = str(uuid.uuid4())
            store.enqueue(
                NewOperation(
                    ACCOUNT, "update", "time", f"t-{op_id}", payload_for(op_id, seq), 1, op_id
                )
            )
            print(f"{op_id} {seq}", flush=True)
            seq += 1
    if command == "enqueue_n":
        count, tag, start = int(argv[2]), argv[3], float(argv[4])
        _wait_until(start)
        for seq in range(count):
            op_id = str(uuid.uuid4())
            store.enqueue(
                NewOperation(
                    ACCOUNT, "create", "time", f"{tag}-{seq}", payload_for(op_id, seq), None, op_id
                )
            )
        print(count, flush=True)
        return 0
    if command == "claim_loop":
        owner, start = argv[2], float(argv[3])
        _wait_until(start)
        while True:
            claimed = store.claim(ACCOUNT, owner, 600, limit=3)
            if not claimed:
                return 0
            for operation in claimed:
                print(operation.op_id, flush=True)
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
