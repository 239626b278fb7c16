"""Id map, credentials and sync state."""

from __future__ import annotations

from store_helpers import ACCOUNT, OTHER, T0, db_rows, on_postgres

from pymesync.store import Store
from pymesync.store.schema import CredentialRow


def test_id_map(store: Store) -> None:
    assert store.resolve_id(ACCOUNT, "time", "L1") == "L1"
    assert store.local_id_for(ACCOUNT, "time", "S1") is None
    store.map_id(ACCOUNT, "time", "L1", "S1")
    assert store.resolve_id(ACCOUNT, "time", "L1") == "S1"
    assert store.resolve_id(ACCOUNT, "time", "S1") == "S1"
    assert store.local_id_for(ACCOUNT, "time", "S1") == "L1"
    assert store.resolve_id(ACCOUNT, "project", "L1") == "L1"
    assert store.resolve_id(OTHER, "time", "L1") == "L1"
    store.map_id(ACCOUNT, "time", "L1", "S2")  # remapped: last write wins
    assert store.resolve_id(ACCOUNT, "time", "L1") == "S2"
    assert store.local_id_for(ACCOUNT, "time", "S1") is None
    store.map_id(ACCOUNT, "time", "L3", "S2")  # another local id for S2 replaces L1's
    assert store.local_id_for(ACCOUNT, "time", "S2") == "L3"
    store.map_id(ACCOUNT, "time", "X", "X")  # identity mapping is a no-op
    assert store.local_id_for(ACCOUNT, "time", "X") is None


def test_tokens(store: Store) -> None:
    assert store.load_token(ACCOUNT) is None
    store.save_token(ACCOUNT, "secret-1", now=T0)
    store.save_token(OTHER, "secret-other", now=T0)
    assert store.load_token(ACCOUNT) == "secret-1"
    store.save_token(ACCOUNT, "secret-2", now=T0)
    assert store.load_token(ACCOUNT) == "secret-2"
    assert store.forget_token(ACCOUNT) is True
    assert store.forget_token(ACCOUNT) is False
    assert store.load_token(ACCOUNT) is None
    assert store.load_token(OTHER) == "secret-other"


def test_token_lives_only_in_credentials(store: Store) -> None:
    store.save_token(ACCOUNT, "very-secret-token", now=T0)
    assert "very-secret-token" not in repr(store)
    assert "very-secret-token" not in repr(
        CredentialRow(account=ACCOUNT, token="very-secret-token", updated_at=T0)
    )
    tables = (
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        if on_postgres(store)
        else "SELECT name FROM sqlite_master WHERE type='table'"
    )
    hits = []
    for (table,) in db_rows(store, tables):
        for row in db_rows(store, f'SELECT * FROM "{table}"'):
            if any("very-secret-token" in str(v) for v in row):
                hits.append(table)
    assert hits == ["credentials"]


def test_sync_state(store: Store) -> None:
    assert store.get_state(ACCOUNT, "last_success") is None
    assert store.get_state(ACCOUNT, "last_success", "never") == "never"
    store.set_state(ACCOUNT, "last_success", "2026-11-30T12:00:00+00:00", now=T0)
    store.set_state(ACCOUNT, "last_error", {"status": 500, "text": "boom"}, now=T0)
    store.set_state(ACCOUNT, "needs_login", True, now=T0)
    store.set_state(ACCOUNT, "nothing", None, now=T0)
    store.set_state(OTHER, "needs_login", False, now=T0)
    assert store.get_state(ACCOUNT, "last_error") == {"status": 500, "text": "boom"}
    assert store.get_state(ACCOUNT, "needs_login") is True
    assert store.get_state(ACCOUNT, "nothing", "dflt") is None
    store.set_state(ACCOUNT, "needs_login", False, now=T0)
    assert store.all_states(ACCOUNT) == {
        "last_success": "2026-11-30T12:00:00+00:00",
        "last_error": {"status": 500, "text": "boom"},
        "needs_login": False,
        "nothing": None,
    }
    assert store.delete_state(ACCOUNT, "needs_login") is True
    assert store.delete_state(ACCOUNT, "needs_login") is False
    assert store.get_state(OTHER, "needs_login") is False


def test_state_survives_reopen(store: Store) -> None:
    store.set_state(ACCOUNT, "k", [1, 2, {"a": "é"}], now=T0)
    store.save_token(ACCOUNT, "tok", now=T0)
    store.close()
    with Store.open(store.path) as again:
        assert again.get_state(ACCOUNT, "k") == [1, 2, {"a": "é"}]
        assert again.load_token(ACCOUNT) == "tok"
