"""What an endpoint function receives (:class:`Call`) and returns (:class:`Reply`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .state import Store, User


@dataclass
class Call:
    """One authenticated API call: the store, the caller, "today" and the request data."""

    store: Store
    caller: User
    today: str
    query: list[tuple[str, str]] = field(default_factory=list)
    obj: dict[str, Any] = field(default_factory=dict)
    now_ms: int = 0

    def values(self, key: str) -> list[str]:
        """Every value of a query parameter, in order."""
        return [v for k, v in self.query if k == key]

    def first(self, key: str) -> str | None:
        """The first value of a query parameter, or None if absent."""
        vals = self.values(key)
        return vals[0] if vals else None

    def revisions_on(self, key: str = "include_revisions") -> bool:
        """NODE's strict flag rule: on only for exactly ``true`` or an empty value."""
        vals = self.values(key)
        return len(vals) == 1 and vals[0] in ("true", "")

    def deleted_on(self) -> bool:
        """NODE's loose ``include_deleted`` rule: on unless absent or exactly ``false``."""
        vals = self.values("include_deleted")
        if not vals:
            return False
        return not (len(vals) == 1 and vals[0] == "false")


@dataclass
class Reply:
    """A successful response.  ``body=None`` with ``empty=True`` sends a 200 with no body;
    ``html`` sends the JSON with ``Content-Type: text/html`` as NODE does for writes."""

    body: Any = None
    empty: bool = False
    html: bool = False
    changed: bool = False
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def empty_ok(changed: bool = True) -> Reply:
    """200 with an empty body (DELETE success, and NODE's unknown-slug revisions quirk)."""
    return Reply(empty=True, changed=changed)


def written(body: Any) -> Reply:
    """The success reply of a create or update: JSON sent as text/html."""
    return Reply(body=body, html=True, changed=True)
