"""Account identity: which account a token, a username or a stored key names.

An account is ``<base_url>|<username>``: the base URL without its trailing ``/`` and
the username the token was issued to (its ``sub``), or the username a client was
resumed for before it has a token. Operations, cached objects and tokens are filed
under it. This is the one place the rule lives: the facade, the offline backend and
``pymesync status`` (which must not import the store's SQLAlchemy side) all call it.
Imports nothing heavy (only :mod:`pymesync.tokens`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from pymesync import errors, tokens


def base_url(url: str) -> str:
    """``url`` as a client keeps it: one trailing ``/`` dropped."""
    return url[:-1] if url.endswith("/") else url


def user_account(baseurl: str, username: str) -> str:
    """The account of ``username`` on ``baseurl`` (the key a login for them gives too)."""
    return f"{baseurl}|{username}"


@functools.lru_cache(maxsize=64)
def account_key(baseurl: str, token: str) -> str:
    """The account a token belongs to: ``<baseurl>|<username>`` (from the token's ``sub``;
    a token without one gets an account of its own, named by a hash of the token)."""
    try:
        sub = tokens.token_payload(token).get("sub")
    except errors.ValidationError:
        sub = None
    if not isinstance(sub, str) or not sub:
        sub = "token-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
    return user_account(baseurl, sub)


def account_of(baseurl: str, token: str | None, username: str | None) -> str | None:
    """The account a client works on: its token's, else its username's (a client
    resumed without a token), else None (nobody yet)."""
    if token:
        return account_key(baseurl, token)
    if username:
        return user_account(baseurl, username)
    return None


def resumed(
    url: str, username: str, load_token: Callable[[str], str | None]
) -> tuple[str, str | None]:
    """What ``TimeSync.resume(url, username)`` works on: ``(account, token)``, where
    ``token`` is the one stored under ``username``'s account (``load_token(account)``;
    None: not logged in) and ``account`` the one that token names (else the user's)."""
    baseurl = base_url(url)
    mine = user_account(baseurl, username)
    token = load_token(mine)
    return (account_key(baseurl, token) if token else mine), token


def split(account: str) -> tuple[str, str]:
    """``(base_url, username)`` of an account key."""
    baseurl, _, username = account.rpartition("|")
    return baseurl, username
