"""SQLite persistence: data survives a restart on the same file; tokens never do."""

from __future__ import annotations

from pathlib import Path

from pymesync.testing import SEED_TIMES, run_emulator

from .helpers import Api, error


def test_data_survives_restart_but_tokens_do_not(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite3")
    with run_emulator(seed_data=True, db=db) as first:
        api = Api(first.base_url)
        token = api.login("alice")
        created = api.post(
            "/times",
            token,
            {"duration": 5, "project": "gwm", "user": "alice", "date_worked": "2016-04-04"},
        ).json()
        api.post(f"/times/{created['uuid']}", token, {"notes": "rev 2"})
        admin = api.login("admin")
        api.delete("/projects/pymesync", admin)
        api.post("/users", admin, {"username": "erin", "password": "x"})
        first_url = first.base_url
    with run_emulator(seed_data=True, db=db) as second:  # seed_data does not re-seed
        api = Api(second.base_url)
        if second.base_url == first_url:
            error(api.get("/times", token), 401, "Authentication failure", "Bad API token")
        fresh = api.login("alice")
        got = api.get(f"/times/{created['uuid']}", fresh, [("include_revisions", "true")]).json()
        assert got["revision"] == 2 and got["notes"] == "rev 2" and len(got["parents"]) == 1
        assert len(api.get("/times", api.login("admin")).json()) == len(SEED_TIMES) + 1
        error(api.get("/projects/ps", fresh), 404, "Object not found", "Nonexistent project")
        assert api.get("/users/erin", fresh).status_code == 200
        # the old token of the first server is unknown here
        error(api.get("/times", token), 401, "Authentication failure", "Bad API token")


def test_reset_rewrites_the_file(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite3")
    with run_emulator(db=db) as emu:
        api = Api(emu.base_url)
        api.post("/activities", emu.issue_token("admin"), {"name": "A", "slug": "a"})
        emu.reset()
    with run_emulator(db=db) as emu:
        assert Api(emu.base_url).get("/activities", emu.issue_token("admin")).json() == []
