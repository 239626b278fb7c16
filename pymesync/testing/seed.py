"""The emulator's accounts and optional seed data, exposed as constants for tests.

The ``admin`` account always exists.  ``seed_data=True`` adds the users, activities,
projects and times below; their uuids are fixed, so tests can name them.  Seed passwords
are bcrypt hashes with 4 rounds (fast; they verify like any other hash).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

import bcrypt

from .clock import epoch_ms, today_of
from .state import Activity, Project, Role, Store, Time, User

_NS = uuid.UUID("6f2c1c3e-8d4b-4f7a-9a51-1d2e3f405060")


def _uuid(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


@dataclass(frozen=True)
class SeedUser:
    """A seeded account; ``password`` is the plaintext to log in with."""

    username: str
    password: str
    display_name: str
    email: str | None = None
    site_spectator: bool = False
    site_manager: bool = False
    site_admin: bool = False


@dataclass(frozen=True)
class SeedActivity:
    """A seeded activity."""

    name: str
    slug: str
    uuid: str


@dataclass(frozen=True)
class SeedProject:
    """A seeded project; ``users`` maps usernames to ``{member, spectator, manager}``."""

    name: str
    slugs: tuple[str, ...]
    uri: str | None
    default_activity: str | None
    uuid: str
    users: MappingProxyType[str, MappingProxyType[str, bool]] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True)
class SeedTime:
    """A seeded time entry (revision 1)."""

    uuid: str
    user: str
    project: str
    activities: tuple[str, ...]
    duration: int
    date_worked: str
    notes: str | None = None
    issue_uri: str | None = None


def _roles(**users: dict[str, bool]) -> MappingProxyType[str, MappingProxyType[str, bool]]:
    full = {
        name: MappingProxyType({k: flags.get(k, False) for k in ("member", "spectator", "manager")})
        for name, flags in users.items()
    }
    return MappingProxyType(full)


ADMIN_USERNAME = "admin"
"""Username of the always-present administrator."""
ADMIN_PASSWORD = "admin"
"""Password of the administrator."""
ADMIN = SeedUser(
    ADMIN_USERNAME, ADMIN_PASSWORD, "Administrator", None, site_manager=True, site_admin=True
)
"""The administrator: site_admin and site_manager (NODE's POST /users needs both)."""

ALICE = SeedUser("alice", "alice", "Alice Member", "alice@example.com")
"""Member and manager of gwm, member of timesync."""
BOB = SeedUser("bob", "bob", "Bob Member", "bob@example.com")
"""Member of gwm; member and spectator of timesync (so sees alice's timesync times)."""
CAROL = SeedUser("carol", "carol", "Carol Spectator", "carol@example.com", site_spectator=True)
"""Site spectator: sees every time, member of nothing."""
DAVE = SeedUser("dave", "dave", "Dave Manager", "dave@example.com", site_manager=True)
"""Site manager (not admin): manages projects/activities, sees only his own times."""
SEED_USERS = (ALICE, BOB, CAROL, DAVE)
"""Users added by ``seed_data=True`` (admin not included: it always exists)."""

DEV = SeedActivity("Development", "dev", _uuid("activity/dev"))
"""Activity ``dev``."""
DOCS = SeedActivity("Documentation", "docs", _uuid("activity/docs"))
"""Activity ``docs``."""
PLAN = SeedActivity("Planning", "plan", _uuid("activity/plan"))
"""Activity ``plan``."""
SEED_ACTIVITIES = (DEV, DOCS, PLAN)
"""Activities added by ``seed_data=True``."""

GWM = SeedProject(
    "Ganeti Web Manager",
    ("ganeti-webmgr", "gwm"),
    "https://code.osuosl.org/projects/ganeti-webmgr",
    "dev",
    _uuid("project/gwm"),
    _roles(alice={"member": True, "manager": True}, bob={"member": True}),
)
"""Project gwm (default activity ``dev``)."""
TIMESYNC = SeedProject(
    "TimeSync",
    ("timesync", "ts"),
    "https://github.com/osuosl/timesync",
    None,
    _uuid("project/timesync"),
    _roles(alice={"member": True}, bob={"member": True, "spectator": True}),
)
"""Project timesync (no default activity: a time without ``activities`` is refused)."""
PYMESYNC = SeedProject("pymesync", ("pymesync", "ps"), None, "docs", _uuid("project/pymesync"))
"""Project pymesync: no role rows (so no ``users`` key), default activity ``docs``."""
SEED_PROJECTS = (GWM, TIMESYNC, PYMESYNC)
"""Projects added by ``seed_data=True``."""

SEED_TIMES = (
    SeedTime(
        _uuid("time/1"),
        "alice",
        "gwm",
        ("dev",),
        3600,
        "2016-05-02",
        "Worked on the VM list",
        "https://github.com/osuosl/ganeti_webmgr/issues/1",
    ),
    SeedTime(_uuid("time/2"), "bob", "gwm", ("dev", "docs"), 1800, "2016-05-03", ""),
    SeedTime(_uuid("time/3"), "alice", "timesync", ("plan",), 5400, "2016-05-04"),
    SeedTime(_uuid("time/4"), "bob", "timesync", ("dev",), 7200, "2016-05-05", "Emulator"),
)
"""Times added by ``seed_data=True``: alice sees 1 and 3, bob 2, 3 and 4, carol all."""

_HASHES: dict[str, str] = {}


def password_hash(plain: str) -> str:
    """A cached fast bcrypt hash (prefix ``2a``, 4 rounds) of ``plain``."""
    if plain not in _HASHES:
        salt = bcrypt.gensalt(rounds=4, prefix=b"2a")
        _HASHES[plain] = bcrypt.hashpw(plain.encode("utf-8"), salt).decode("ascii")
    return _HASHES[plain]


def _user(seed: SeedUser, now_ms: int) -> User:
    return User(
        username=seed.username,
        password=password_hash(seed.password),
        display_name=seed.display_name,
        email=seed.email,
        site_spectator=seed.site_spectator,
        site_manager=seed.site_manager,
        site_admin=seed.site_admin,
        created_at_ms=now_ms,
    )


def initial_store(seed_data: bool, now: datetime) -> Store:
    """A fresh store: the admin account and, with ``seed_data``, the seed objects."""
    today, now_ms = today_of(now), epoch_ms(now)
    store = Store()
    store.users[ADMIN.username] = _user(ADMIN, now_ms)
    if not seed_data:
        return store
    for seed_user in SEED_USERS:
        store.users[seed_user.username] = _user(seed_user, now_ms)
    for act in SEED_ACTIVITIES:
        store.activities[act.uuid] = [Activity(act.uuid, 1, act.name, act.slug, today)]
    slug_uuid = {a.slug: a.uuid for a in SEED_ACTIVITIES}
    for proj in SEED_PROJECTS:
        default = slug_uuid[proj.default_activity] if proj.default_activity else None
        store.projects[proj.uuid] = [Project(proj.uuid, 1, proj.name, proj.uri, default, today)]
        for slug in proj.slugs:
            store.project_slugs[slug] = proj.uuid
        if proj.users:
            store.roles[proj.uuid] = {name: Role(**flags) for name, flags in proj.users.items()}
    for t in SEED_TIMES:
        store.times[t.uuid] = [
            Time(
                uuid=t.uuid,
                revision=1,
                user=t.user,
                duration=t.duration,
                project=store.project_slugs[t.project],
                activities=[slug_uuid[s] for s in t.activities],
                notes=t.notes,
                issue_uri=t.issue_uri,
                date_worked=t.date_worked,
                created_at=today,
            )
        ]
    return store
