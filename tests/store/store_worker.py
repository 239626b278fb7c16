"""Subprocess worker for the multi-process store tests (run as a script, not collected).

python store_worker.py enqueue_loop DB            # enqueue forever, print op_ids
python store_worker.py enqueue_n DB N TAG START   # enqueue N ops at wall time START
python store_worker.py claim_loop DB OWNER START  # claim until the queue is dry
python store_worker.py open_check DB              # open; report if alembic loaded
"""

from __future__ import annotations

import os
import sys
import time
import uuid

ACCOUNT = "http://host/v0|alice"


def payload_for(op_id: str, seq: int) -> dict[str, object]:
    """The payload the enqueue workers write for an op (checked after a kill)."""
    return {"seq": seq, "op_id": op_id, "notes": "x" * (seq % 97), "duration": seq * 60}


def _ready_then_wait_for(go: str) -> None:
    """Say we are ready, then wait until the file ``go`` exists (a start barrier)."""
    print("ready", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.001)


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
        count, tag = int(argv[2]), argv[3]
        _ready_then_wait_for(argv[4])
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
        owner = argv[2]
        _ready_then_wait_for(argv[3])
        while True:
            claimed = store.claim(ACCOUNT, owner, 600, limit=3)
            if not claimed:
                return 0
            for operation in claimed:
                print(operation.op_id, flush=True)
            time.sleep(0.002)  # "sending": the other claimer gets its turn
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
