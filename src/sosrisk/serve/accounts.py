"""Reviewer accounts, API tokens and login sessions; only hashes of secrets are ever stored.

Passwords are hashed with scrypt (``hashlib.scrypt``, N=2**14, r=8, p=1, a 16-byte random salt) and
compared in constant time. API tokens and session ids are 256-bit random strings: stored as their
SHA-256 (enough for secrets of that entropy; a stolen database does not give working tokens).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import api_tokens, audit_events, posts, sessions, users
from .store import StoreError, record_event, to_json, transaction, utcnow

TOKEN_PREFIX = "sosrisk_"
MIN_PASSWORD_CHARS = 10
MAX_DISPLAY_NAME_CHARS = 128
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_TOKEN_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


# --------------------------------------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    """A salted scrypt hash: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    encoded = [base64.b64encode(part).decode("ascii") for part in (salt, digest)]
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def sha256_hex(secret: str) -> str:
    """SHA-256 of a high-entropy secret (API token, session id), as stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------------ users
@dataclass(frozen=True)
class User:
    """A reviewer who can log in to the triage page."""

    id: int
    username: str
    display_name: str


def check_password_strength(password: str) -> None:
    """Reject passwords too short to protect crisis data."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise StoreError(
            f"A reviewer password needs at least {MIN_PASSWORD_CHARS} characters. Got {len(password)}; "
            "choose a longer one (a passphrase of several words is easiest)."
        )


def add_user(
    engine: Engine, username: str, password: str, *, display_name: str | None = None, actor: str = "cli"
) -> User:
    """Create a reviewer account. A removed reviewer's name is not reused (their decisions keep naming one
    person): :func:`restore_user` brings the same person back."""
    if not _USERNAME_RE.match(username):
        raise StoreError(
            "A username must be 1-64 letters, digits, '.', '_' or '-'. "
            f"Got {username!r} instead; a display name may use any characters (--name)."
        )
    check_password_strength(password)
    now = utcnow()
    name = display_name or username
    _check_display_name(name)
    password_hash = hash_password(password)
    with transaction(engine) as connection:
        existing = connection.execute(sa.select(users).where(users.c.username == username)).first()
        if existing is not None and existing.removed_at is None:
            raise StoreError(
                f"A reviewer named {username!r} already exists. Remove it first "
                f"('sosrisk users remove {username}') or choose another name."
            )
        if existing is not None:
            raise StoreError(
                f"A reviewer named {username!r} was removed on {existing.removed_at:%Y-%m-%d}; names are not "
                "reused, so that decisions and the audit trail keep naming one person. If it is the same "
                f"person, run 'sosrisk users restore {username}'; otherwise choose another name."
            )
        values = {"display_name": name, "password_hash": password_hash, "removed_at": None}
        user_id = int(
            connection.execute(users.insert().values(username=username, created_at=now, **values)).inserted_primary_key[
                0
            ]  # type: ignore[index]
        )
        record_event(connection, actor, "user.added", detail={"username": username})
    return User(user_id, username, name)


def restore_user(
    engine: Engine, username: str, password: str, *, display_name: str | None = None, actor: str = "cli"
) -> User:
    """Bring back a removed reviewer (the same person: their earlier decisions stay theirs) with a new
    password, and a new display name if one is given."""
    check_password_strength(password)
    if display_name is not None:
        _check_display_name(display_name)
    password_hash = hash_password(password)
    with transaction(engine) as connection:
        row = connection.execute(sa.select(users).where(users.c.username == username)).first()
        if row is None or row.removed_at is None:
            state = "is active" if row is not None else "does not exist"
            raise StoreError(
                f"Only a removed reviewer can be restored; {username!r} {state}. List them with 'sosrisk users list'."
            )
        name = display_name or row.display_name
        connection.execute(
            users.update()
            .where(users.c.id == row.id)
            .values(display_name=name, password_hash=password_hash, removed_at=None)
        )
        record_event(connection, actor, "user.restored", detail={"username": username})
    return User(int(row.id), username, name)


def _check_display_name(name: str) -> None:
    if len(name) > MAX_DISPLAY_NAME_CHARS or any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise StoreError(
            f"A display name must be at most {MAX_DISPLAY_NAME_CHARS} characters without control characters. "
            f"Got {name!r} instead."
        )


def remove_user(engine: Engine, username: str, *, actor: str = "cli") -> None:
    """Disable a reviewer: no more logins, sessions ended, claims released; their decisions stay."""
    with transaction(engine) as connection:
        row = connection.execute(
            sa.select(users.c.id).where(users.c.username == username, users.c.removed_at.is_(None))
        ).first()
        if row is None:
            raise StoreError(f"No active reviewer named {username!r}. List them with 'sosrisk users list'.")
        connection.execute(users.update().where(users.c.id == row.id).values(removed_at=utcnow()))
        connection.execute(sessions.delete().where(sessions.c.user_id == row.id))
        connection.execute(
            posts.update().where(posts.c.assigned_to == row.id).values(assigned_to=None, assigned_until=None)
        )
        record_event(connection, actor, "user.removed", detail={"username": username})


def list_users(engine: Engine) -> list[tuple[str, str, _dt.datetime, _dt.datetime | None]]:
    """``(username, display name, created, removed)`` of every account, active ones first."""
    with engine.connect() as connection:
        result = connection.execute(
            sa.select(users.c.username, users.c.display_name, users.c.created_at, users.c.removed_at).order_by(
                users.c.removed_at.is_not(None), users.c.username
            )
        )
        return [tuple(row) for row in result]


def _login_actor(username: str) -> str:
    """The audit actor of a login attempt: ``login:<name>``, or ``login:?`` for a name no account can have."""
    return f"login:{username}" if _USERNAME_RE.match(username) else "login:?"


def authenticate(engine: Engine, username: str, password: str, *, client: str = "unknown") -> User | None:
    """The active reviewer with these credentials, or ``None``. A failed attempt is audited with the
    name it claimed and the client's address (``detail`` ``{"client": ...}``), which the login limits count."""
    if not _USERNAME_RE.match(username):
        row = None  # no account can have this name: no lookup, and no password hashing to spend
        ok = False
    else:
        with engine.connect() as connection:
            row = connection.execute(
                sa.select(users).where(users.c.username == username, users.c.removed_at.is_(None))
            ).first()
        ok = row is not None and verify_password(password, row.password_hash)
        if row is None:
            hash_password(password)  # spend the same time as for a real account
    with transaction(engine) as connection:
        if ok:
            record_event(connection, f"user:{username}", "login")
        else:
            record_event(connection, _login_actor(username), "login.failed", detail={"client": client})
    if not ok or row is None:
        return None
    return User(int(row.id), row.username, row.display_name)


@dataclass(frozen=True)
class FailedLogins:
    """Failed logins within the window: of this name from this client, from this client, of this name."""

    name_from_client: int
    client: int
    name: int


def recent_failed_logins(engine: Engine, username: str, client: str, *, minutes: int) -> FailedLogins:
    """How many failed logins the audit trail holds from the last ``minutes``, counted three ways."""
    since = utcnow() - _dt.timedelta(minutes=minutes)
    by_name = audit_events.c.actor == _login_actor(username)
    by_client = audit_events.c.detail == to_json({"client": client})
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(sa.case((sa.and_(by_name, by_client), 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((by_client, 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((by_name, 1), else_=0)), 0),
            ).where(audit_events.c.event == "login.failed", audit_events.c.at >= since)
        ).one()
    return FailedLogins(int(row[0]), int(row[1]), int(row[2]))


# --------------------------------------------------------------------------------------------- sessions
def create_session(engine: Engine, user: User, *, hours: float) -> str:
    """Start a login session; returns the session id for the cookie (only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with transaction(engine) as connection:
        connection.execute(sessions.delete().where(sessions.c.expires_at < now))
        connection.execute(
            sessions.insert().values(
                id_hash=sha256_hex(session_id),
                user_id=user.id,
                created_at=now,
                expires_at=now + _dt.timedelta(hours=hours),
            )
        )
    return session_id


def session_user(engine: Engine, session_id: str) -> User | None:
    """The reviewer of a live session, or ``None`` (unknown, expired, or the account was removed)."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(users.c.id, users.c.username, users.c.display_name)
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(
                sessions.c.id_hash == sha256_hex(session_id),
                sessions.c.expires_at > utcnow(),
                users.c.removed_at.is_(None),
            )
        ).first()
    return None if row is None else User(int(row.id), row.username, row.display_name)


def end_session(engine: Engine, session_id: str, *, actor: str) -> None:
    """Log out: delete the session."""
    with transaction(engine) as connection:
        connection.execute(sessions.delete().where(sessions.c.id_hash == sha256_hex(session_id)))
        record_event(connection, actor, "logout")


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: derived from the session id, so it needs no storage."""
    return hmac.new(session_id.encode("utf-8"), b"sosrisk-csrf", hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------- API tokens
@dataclass(frozen=True)
class ApiToken:
    """A client's API token record (the token itself is shown once, at creation)."""

    name: str
    prefix: str
    created_at: _dt.datetime
    revoked_at: _dt.datetime | None
    last_used_at: _dt.datetime | None


def create_token(engine: Engine, name: str, *, actor: str = "cli") -> str:
    """Create an API token for a client called ``name``; returns the token (shown once, stored hashed)."""
    if not _TOKEN_NAME_RE.match(name):
        raise StoreError(f"A token name must be 1-64 letters, digits, '.', '_' or '-'. Got {name!r} instead.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as connection:
        taken = connection.execute(sa.select(api_tokens.c.id).where(api_tokens.c.name == name)).first()
        if taken is not None:
            raise StoreError(
                f"A token named {name!r} already exists (revoked tokens keep their name for the audit "
                "trail). Choose another name."
            )
        connection.execute(
            api_tokens.insert().values(
                name=name,
                token_hash=sha256_hex(token),
                prefix=token[: len(TOKEN_PREFIX) + 4],
                created_at=utcnow(),
            )
        )
        record_event(connection, actor, "token.created", detail={"name": name})
    return token


def revoke_token(engine: Engine, name: str, *, actor: str = "cli") -> None:
    """Revoke the API token called ``name``: requests with it are refused from now on."""
    with transaction(engine) as connection:
        result = connection.execute(
            api_tokens.update()
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if result.rowcount != 1:
            raise StoreError(f"No active API token named {name!r}. List them with 'sosrisk tokens list'.")
        record_event(connection, actor, "token.revoked", detail={"name": name})


def list_tokens(engine: Engine) -> list[ApiToken]:
    """Every API token record, newest first."""
    with engine.connect() as connection:
        result = connection.execute(sa.select(api_tokens).order_by(api_tokens.c.id.desc()))
        return [ApiToken(row.name, row.prefix, row.created_at, row.revoked_at, row.last_used_at) for row in result]


def token_name(engine: Engine, token: str) -> str | None:
    """The name of the live API token ``token``, or ``None``; records when it was last used."""
    digest = sha256_hex(token)
    now = utcnow()
    with transaction(engine) as connection:
        row = connection.execute(
            sa.select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.last_used_at).where(
                api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at > _dt.timedelta(minutes=1):
            connection.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now))
        return str(row.name)
