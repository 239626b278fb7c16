"""The emulator's data: users, activities, projects (with slugs and roles) and times.

Times, projects and activities keep every revision (oldest first) under their uuid;
users are updated in place.  Dates are stored as ``YYYY-MM-DD`` strings, except the
user's creation instant, which is kept in epoch milliseconds because NODE's create-user
response shows it that way.  The whole store round-trips through :meth:`Store.snapshot`
and :meth:`Store.restore` for persistence.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


def ms_to_date(ms: int) -> str:
    """Return the ``YYYY-MM-DD`` UTC date of epoch milliseconds ``ms``."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date().isoformat()


@dataclass
class User:
    """A user account; ``password`` is stored exactly as it was sent (a bcrypt hash)."""

    username: str
    password: str
    display_name: str | None = None
    email: str | None = None
    meta: str | None = None
    site_spectator: bool = False
    site_manager: bool = False
    site_admin: bool = False
    active: bool = True
    created_at_ms: int = 0
    updated_at: str | None = None
    deleted_at: str | None = None

    def public(self) -> dict[str, Any]:
        """The user as GET returns it: every field but the password, dates as strings."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "site_spectator": self.site_spectator,
            "site_manager": self.site_manager,
            "site_admin": self.site_admin,
            "active": self.active,
            "meta": self.meta,
            "created_at": ms_to_date(self.created_at_ms),
            "updated_at": self.updated_at,
            "deleted_at": self.deleted_at,
        }


@dataclass
class Activity:
    """One revision of an activity; ``slug`` is None once deleted."""

    uuid: str
    revision: int
    name: str
    slug: str | None
    created_at: str
    updated_at: str | None = None
    deleted_at: str | None = None


@dataclass
class Role:
    """A user's flags on one project."""

    member: bool = False
    spectator: bool = False
    manager: bool = False

    def public(self) -> dict[str, bool]:
        """The role as the wire shows it."""
        return {"member": self.member, "spectator": self.spectator, "manager": self.manager}


@dataclass
class Project:
    """One revision of a project; ``default_activity`` is an activity uuid."""

    uuid: str
    revision: int
    name: str
    uri: str | None
    default_activity: str | None
    created_at: str
    updated_at: str | None = None
    deleted_at: str | None = None


@dataclass
class Time:
    """One revision of a time entry; ``project`` and ``activities`` hold uuids."""

    uuid: str
    revision: int
    user: str
    duration: int | float
    project: str
    activities: list[str]
    notes: str | None
    issue_uri: str | None
    date_worked: str
    created_at: str
    updated_at: str | None = None
    deleted_at: str | None = None


@dataclass
class Store:
    """All emulator data.  Not thread-safe by itself: callers hold the emulator's lock."""

    users: dict[str, User] = field(default_factory=dict)
    activities: dict[str, list[Activity]] = field(default_factory=dict)
    projects: dict[str, list[Project]] = field(default_factory=dict)
    project_slugs: dict[str, str] = field(default_factory=dict)
    roles: dict[str, dict[str, Role]] = field(default_factory=dict)
    times: dict[str, list[Time]] = field(default_factory=dict)

    # --- lookups -----------------------------------------------------------------------

    def activity_by_slug(self, slug: str) -> Activity | None:
        """The current revision of the live activity with ``slug``, if any."""
        for revs in self.activities.values():
            current = revs[-1]
            if current.slug == slug and current.deleted_at is None:
                return current
        return None

    def activity_slug(self, activity_uuid: str | None) -> str | None:
        """The current slug of an activity uuid (None if unknown or deleted)."""
        if activity_uuid is None or activity_uuid not in self.activities:
            return None
        current = self.activities[activity_uuid][-1]
        return None if current.deleted_at is not None else current.slug

    def project_by_slug(self, slug: str) -> Project | None:
        """The current revision of the project owning ``slug``, if any."""
        project_uuid = self.project_slugs.get(slug)
        if project_uuid is None:
            return None
        return self.projects[project_uuid][-1]

    def slugs_of(self, project_uuid: str) -> list[str]:
        """The sorted current slugs of a project."""
        return sorted(s for s, p in self.project_slugs.items() if p == project_uuid)

    def current_times(self) -> list[Time]:
        """The newest revision of every time, deleted ones included."""
        return [revs[-1] for revs in self.times.values()]

    def project_in_use(self, project_uuid: str) -> bool:
        """True if a current, undeleted time references the project."""
        return any(t.project == project_uuid and t.deleted_at is None for t in self.current_times())

    def activity_in_use(self, activity_uuid: str) -> bool:
        """True if a current, undeleted time references the activity."""
        return any(
            activity_uuid in t.activities and t.deleted_at is None for t in self.current_times()
        )

    # --- rendering ---------------------------------------------------------------------

    def render_time(self, t: Time) -> dict[str, Any]:
        """A time in canonical GET form (project as sorted slugs, activities sorted)."""
        slugs = [self.activity_slug(a) for a in t.activities]
        return {
            "uuid": t.uuid,
            "revision": t.revision,
            "user": t.user,
            "duration": t.duration,
            "project": self.slugs_of(t.project),
            "activities": sorted(s for s in slugs if s is not None),
            "notes": t.notes,
            "issue_uri": t.issue_uri,
            "date_worked": t.date_worked,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
            "deleted_at": t.deleted_at,
        }

    def render_project(self, p: Project, *, with_relations: bool = True) -> dict[str, Any]:
        """A project; ``with_relations=False`` gives the parent form (no slugs, no users)."""
        out: dict[str, Any] = {
            "uuid": p.uuid,
            "name": p.name,
            "uri": p.uri,
            "default_activity": self.activity_slug(p.default_activity),
            "revision": p.revision,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
            "deleted_at": p.deleted_at,
        }
        if with_relations:
            out["slugs"] = self.slugs_of(p.uuid)
            roles = self.roles.get(p.uuid)
            if roles:
                out["users"] = {name: role.public() for name, role in roles.items()}
        return out

    @staticmethod
    def render_activity(a: Activity) -> dict[str, Any]:
        """An activity in GET form."""
        return {
            "uuid": a.uuid,
            "name": a.name,
            "slug": a.slug,
            "revision": a.revision,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
            "deleted_at": a.deleted_at,
        }

    # --- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable deep copy of the whole store."""
        return {
            "users": [asdict(u) for u in self.users.values()],
            "activities": {k: [asdict(r) for r in v] for k, v in self.activities.items()},
            "projects": {k: [asdict(r) for r in v] for k, v in self.projects.items()},
            "project_slugs": dict(self.project_slugs),
            "roles": {
                k: {name: asdict(role) for name, role in v.items()} for k, v in self.roles.items()
            },
            "times": {k: [asdict(r) for r in v] for k, v in self.times.items()},
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Store:
        """Rebuild a store from :meth:`snapshot` output."""
        data = copy.deepcopy(data)
        return cls(
            users={u["username"]: User(**u) for u in data["users"]},
            activities={k: [Activity(**r) for r in v] for k, v in data["activities"].items()},
            projects={k: [Project(**r) for r in v] for k, v in data["projects"].items()},
            project_slugs=dict(data["project_slugs"]),
            roles={
                k: {name: Role(**role) for name, role in v.items()}
                for k, v in data["roles"].items()
            },
            times={k: [Time(**r) for r in v] for k, v in data["times"].items()},
        )
