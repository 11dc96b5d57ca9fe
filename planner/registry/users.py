"""The registry's staff accounts: users, bearer tokens, sessions and login throttling.

* ``users``: name, role (``staff`` | ``admin``), password hash from
  :func:`werkzeug.security.generate_password_hash`, created_at.
* ``tokens``: only the SHA-256 of each bearer token is stored, with its expiry.
* ``sessions``: server-side staff sessions; the cookie holds a random id, the table its
  SHA-256, so logout, a new password, a new role or deleting the user ends every session at
  once.
* ``login_failures``: throttling that every web worker process shares.

The rules and limits (password policy, lifetimes, waits) live in
:mod:`planner.registry.policy`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import secrets
import time

from planner._validate import to_float
from planner.errors import InputError, NotFoundError, ThrottledError
from planner.registry import policy
from planner.registry.db import RegistryFile, iso_from_unix, now_iso, unix_from_iso

ROLES: tuple[str, ...] = ("staff", "admin")
_USER_RE = re.compile(r"^[\w.@-]{1,64}$")


class UserStore(RegistryFile):
    """Staff accounts of a registry (a mixin of :class:`planner.registry.Registry`)."""

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, *, role: str, password: str) -> dict:
        """Create a user with a hashed password (see :func:`planner.registry.policy.password_problem`).

        Raises
        ------
        InputError
            Bad name, role not staff|admin, a password the policy refuses, or the name is
            taken.
        """
        from werkzeug.security import generate_password_hash

        name = _check_user_name(name)
        problems: dict[str, tuple[str, str]] = {}
        if role not in ROLES:
            problems["role"] = (f"role must be one of {', '.join(ROLES)}; got {role!r}",
                                f"角色须为 {'、'.join(ROLES)} 之一；收到 {role!r}")
        weak = policy.password_problem(password, name)
        if weak:
            problems["password"] = weak
        if problems:
            raise InputError("cannot add user: " + "; ".join(en for en, _ in problems.values()),
                             fields={k: en for k, (en, _) in problems.items()},
                             fields_zh={k: zh for k, (_, zh) in problems.items()})
        record = {"name": name, "role": role, "created_at": now_iso()}
        password_hash = generate_password_hash(password)
        with self.transaction(write=True) as con:
            if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                rule = f"user {name!r} already exists; choose another name or use `users passwd`"
                raise InputError(f"cannot add user: {rule}", fields={"name": rule},
                                 fields_zh={"name": f"用户 {name!r} 已存在；请换一个名称"})
            con.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                        (name, role, password_hash, record["created_at"]))
        return record

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password; ends their sessions and revokes their tokens.

        Raises
        ------
        NotFoundError
            No such user.
        InputError
            The password policy refuses the password.
        """
        from werkzeug.security import generate_password_hash

        weak = policy.password_problem(password, name)
        if weak:
            raise InputError(f"cannot set password: {weak[0]}", fields={"password": weak[0]},
                             fields_zh={"password": weak[1]})
        password_hash = generate_password_hash(password)
        with self.transaction(write=True) as con:
            cur = con.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def set_role(self, name: str, role: str) -> None:
        """Change a user's role; their sessions end (they log in again with the new role)."""
        if role not in ROLES:
            rule = f"role must be one of {', '.join(ROLES)}; got {role!r}"
            raise InputError(rule, fields={"role": rule}, fields_zh={"role": f"角色须为 {'、'.join(ROLES)} 之一"})
        with self.transaction(write=True) as con:
            cur = con.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def delete_user(self, name: str) -> None:
        """Remove a user with their sessions and tokens (the audit trail keeps their name)."""
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))
            if con.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")

    def list_users(self) -> list[dict]:
        """Users as ``{"name", "role", "created_at"}`` (never the hashes), sorted by name."""
        with self.transaction(write=False) as con:
            rows = con.execute("SELECT name, role, created_at FROM users ORDER BY name").fetchall()
        return [dict(r) for r in rows]

    def authenticate(self, name: str, password: str, *, client: str | None = None,
                     now: float | None = None) -> dict | None:
        """The user ``{"name", "role", "created_at"}`` if the password matches, else None.

        Failed attempts are counted per account name and, when ``client`` (the remote
        address) is given, per client, in the registry, so every web worker process sees
        the same counts. After :data:`planner.registry.policy.FREE_FAILURES` failures each further
        attempt waits :data:`~planner.registry.policy.LOCK_BASE_S` × 2^n seconds (at most
        :data:`~planner.registry.policy.LOCK_MAX_S`); during a wait no password is checked.

        Raises
        ------
        ThrottledError
            While a wait is in force (``retry_after`` seconds).
        """
        from werkzeug.security import check_password_hash

        if not _encodable(name) or not _encodable(password) or not password or not name.strip():
            return None
        now = time.time() if now is None else now
        keys = [f"user:{name.strip().casefold()[:128]}"]
        if client:
            keys.append(f"ip:{client[:64]}")
        wait = self._login_wait(keys, now)
        if wait > 0:
            raise ThrottledError(f"too many failed logins; try again in {math.ceil(wait)} s",
                                 retry_after=wait)
        with self.transaction(write=False) as con:
            row = con.execute("SELECT name, role, created_at, password_hash FROM users WHERE name = ?",
                              (name,)).fetchone()
        if row is None:
            check_password_hash(_dummy_hash(), password)  # same work for unknown names
            ok = False
        else:
            ok = check_password_hash(row["password_hash"], password)
        if not ok:
            self._login_failed(keys, now)
            return None
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM login_failures WHERE key = ?", (keys[0],))
        return {"name": row["name"], "role": row["role"], "created_at": row["created_at"]}

    def _login_wait(self, keys: list[str], now: float) -> float:
        marks = ", ".join("?" * len(keys))
        with self.transaction(write=False) as con:
            rows = con.execute(f"SELECT locked_until FROM login_failures WHERE key IN ({marks})", keys).fetchall()
        return max([r["locked_until"] - now for r in rows] + [0.0])

    def _login_failed(self, keys: list[str], now: float) -> None:
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM login_failures WHERE last_at < ?", (now - policy.FAILURE_MEMORY_S,))
            for key in keys:
                row = con.execute("SELECT failures FROM login_failures WHERE key = ?", (key,)).fetchone()
                failures = (row["failures"] if row else 0) + 1
                free = policy.FREE_FAILURES["user" if key.startswith("user:") else "ip"]
                locked_until = 0.0
                if failures >= free:
                    locked_until = now + min(policy.LOCK_MAX_S, policy.LOCK_BASE_S * 2 ** min(failures - free, 30))
                con.execute("INSERT OR REPLACE INTO login_failures (key, failures, last_at, locked_until) "
                            "VALUES (?, ?, ?, ?)", (key, failures, now, locked_until))

    # ------------------------------------------------------------------ sessions
    def open_session(self, name: str, *, now: float | None = None) -> str:
        """Start a staff session; returns the random id the session cookie carries."""
        now = time.time() if now is None else now
        sid = secrets.token_urlsafe(32)
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                        (now - policy.SESSION_IDLE_S, now - policy.SESSION_ABSOLUTE_S))
            if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise NotFoundError(f"no user named {name!r}")
            con.execute("INSERT INTO sessions (id_hash, user_name, created, last_seen) VALUES (?, ?, ?, ?)",
                        (_token_hash(sid), name, now, now))
        return sid

    def session_user(self, sid: object, *, now: float | None = None) -> dict | None:
        """The user ``{"name", "role"}`` of a live session, with the role as stored now.

        None for an unknown, ended or expired session (idle longer than
        :data:`planner.registry.policy.SESSION_IDLE_S` or older than
        :data:`~planner.registry.policy.SESSION_ABSOLUTE_S`).
        """
        if not isinstance(sid, str) or not sid or len(sid) > 256:
            return None
        now = time.time() if now is None else now
        key = _token_hash(sid)
        with self.transaction(write=False) as con:
            row = con.execute(
                "SELECT u.name, u.role, s.created, s.last_seen FROM sessions s JOIN users u ON u.name = s.user_name "
                "WHERE s.id_hash = ?", (key,)).fetchone()
        if row is None:
            return None
        if now - row["last_seen"] > policy.SESSION_IDLE_S or now - row["created"] > policy.SESSION_ABSOLUTE_S:
            self.close_session(sid)
            return None
        if now - row["last_seen"] > policy.SESSION_TOUCH_S:
            with self.transaction(write=True) as con:
                con.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, key))
        return {"name": row["name"], "role": row["role"]}

    def close_session(self, sid: object) -> None:
        """End one session (logout)."""
        if isinstance(sid, str) and sid:
            with self.transaction(write=True) as con:
                con.execute("DELETE FROM sessions WHERE id_hash = ?", (_token_hash(sid),))

    def revoke_sessions(self, name: str) -> int:
        """End every session of a user; returns how many there were."""
        with self.transaction(write=True) as con:
            return con.execute("DELETE FROM sessions WHERE user_name = ?", (name,)).rowcount

    # ------------------------------------------------------------------ tokens
    def issue_token(self, name: str, *, days: float = policy.TOKEN_DAYS) -> str:
        """A new bearer token for a user, valid ``days`` days; only its SHA-256 is stored.

        Raises
        ------
        NotFoundError
            No such user.
        InputError
            ``days`` not in 1..:data:`planner.registry.policy.MAX_TOKEN_DAYS`.
        """
        days = _check_days(days)
        token = secrets.token_urlsafe(32)
        with self.transaction(write=True) as con:
            self._insert_token(con, name, token, days)
        return token

    def _insert_token(self, con, name: str, token: str, days: float) -> None:
        if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise NotFoundError(f"no user named {name!r}; add one with `python -m planner users add NAME`")
        created = time.time()
        con.execute("INSERT INTO tokens (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    (_token_hash(token), name, iso_from_unix(created), iso_from_unix(created + days * 86400)))

    def rotate_token(self, name: str, *, days: float = policy.TOKEN_DAYS) -> str:
        """Revoke every token of a user and issue one new token, in one transaction."""
        days = _check_days(days)
        token = secrets.token_urlsafe(32)
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))
            self._insert_token(con, name, token, days)
        return token

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of a user; returns how many there were (NotFoundError)."""
        with self.transaction(write=True) as con:
            if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")
            return con.execute("DELETE FROM tokens WHERE user_name = ?", (name,)).rowcount

    def list_tokens(self, name: str | None = None) -> list[dict]:
        """Tokens as ``{"user", "id" (first 8 hex digits of the hash), "created_at",
        "expires_at", "expired"}``, oldest first (never the tokens themselves)."""
        sql = "SELECT user_name, token_hash, created_at, expires_at FROM tokens"
        params: tuple = ()
        if name is not None:
            sql, params = sql + " WHERE user_name = ?", (name,)
        with self.transaction(write=False) as con:
            rows = con.execute(sql + " ORDER BY created_at, token_hash", params).fetchall()
        now = time.time()
        return [{"user": r["user_name"], "id": r["token_hash"][:8], "created_at": r["created_at"],
                 "expires_at": r["expires_at"], "expired": (unix_from_iso(r["expires_at"]) or 0) <= now} for r in rows]

    def user_for_token(self, token: str) -> dict | None:
        """The user ``{"name", "role", "created_at"}`` of a live bearer token, else None
        (unknown, revoked or expired)."""
        if not isinstance(token, str) or not token or len(token) > 256:
            return None
        with self.transaction(write=False) as con:
            row = con.execute(
                "SELECT u.name, u.role, u.created_at, t.expires_at FROM tokens t JOIN users u ON u.name = t.user_name "
                "WHERE t.token_hash = ?", (_token_hash(token),)).fetchone()
        if row is None or (unix_from_iso(row["expires_at"]) or 0) <= time.time():
            return None
        return {"name": row["name"], "role": row["role"], "created_at": row["created_at"]}

    def revoke_token(self, token: str) -> bool:
        """Forget a bearer token; True if it existed."""
        if not isinstance(token, str) or not token:
            return False
        with self.transaction(write=True) as con:
            cur = con.execute("DELETE FROM tokens WHERE token_hash = ?", (_token_hash(token),))
        return cur.rowcount > 0


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _encodable(text: object) -> bool:
    """Text SQLite and the password hash can take (no lone surrogates)."""
    if not isinstance(text, str):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_days(days: object) -> float:
    number = to_float(days)
    if number is not None and 0 < number <= policy.MAX_TOKEN_DAYS:
        return number
    rule = f"days must be a number from 1 to {policy.MAX_TOKEN_DAYS}; got {days!r}"
    raise InputError(rule, fields={"days": rule},
                     fields_zh={"days": f"有效天数须为 1 到 {policy.MAX_TOKEN_DAYS} 之间的数字"})


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(secrets.token_urlsafe(16))


def _check_user_name(name: object) -> str:
    if isinstance(name, str) and _USER_RE.match(name.strip()):
        return name.strip()
    rule = f"user name must be 1-64 letters, digits or . _ @ -; got {name!r}"
    raise InputError(f"cannot add user: {rule}", fields={"name": rule},
                     fields_zh={"name": f"用户名须为 1-64 个字母、数字或 . _ @ -；收到 {name!r}"})
