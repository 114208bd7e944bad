"""Settings of the service: one dataclass, validated at construction, and the models it serves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..models.base import CONFIG_NAME, ModelError, RiskModel
from .store import default_db_url


class SettingsError(ValueError):
    """A service setting is out of range; the message names it, the value and what is allowed."""


@dataclass(frozen=True)
class ServeSettings:
    """What ``sosrisk serve`` runs with.

    Parameters
    ----------
    level_model, binary_model:
        Model directories for the ``level`` and the ``binary`` task (at least one).
    db_url:
        SQLAlchemy URL of the review-queue database (default: a SQLite file in the data home).
    max_body_bytes, max_posts, max_chars:
        Limits of one ``POST /v1/assess``: request body size (413), posts per request (413) and characters
        per post (422). Nothing of a refused request is stored.
    request_timeout_s:
        Longest time to receive a body (408) and to assess a batch (503).
    header_timeout_s:
        Longest time a connection may take to send a complete request head, from when it opens (or from its
        first byte after a response); then it is closed. Idle or slow connections cannot pile up.
    max_connections:
        Open connections at most; one more is answered 503 with ``Retry-After`` and closed.
    health_interval_s:
        ``/healthz`` probes the database with a write at most this often while it is healthy (0: on every
        call); an unhealthy database is probed on every call, so recovery shows at once.
    workers, max_pending:
        Threads that run the models, and requests admitted at once (running + waiting); beyond that the
        service answers 503 with ``Retry-After: retry_after_s`` instead of piling up work.
    explain_top_k:
        Phrases per explanation.
    cors_origins:
        Origins allowed to call the API from a browser; empty (the default) turns CORS off.
    cookie_secure:
        Send the session cookie only over HTTPS. Turn off only for plain HTTP on a trusted network.
    session_hours, claim_minutes:
        How long a login lasts, and how long a reviewer's claim on a post holds before it lapses.
    max_failed_logins, max_failed_logins_per_client, max_failed_logins_per_name:
        Failed logins within 15 minutes before further attempts are refused (before any password is
        hashed): for one name from one client (its address), from one client for any names, and for one
        name from all clients. One client can thus neither lock a reviewer out for others nor try names
        without end; only failures from many addresses (``per_name`` / ``max_failed_logins`` of them)
        lock a name for everyone.
    migrate:
        Bring the database schema up to date at start-up (otherwise an outdated schema is an error).
    """

    level_model: Path | None = None
    binary_model: Path | None = None
    db_url: str = field(default_factory=default_db_url)
    max_body_bytes: int = 1_048_576
    max_posts: int = 100
    max_chars: int = 5000
    request_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    max_connections: int = 512
    health_interval_s: float = 2.0
    workers: int = 1
    max_pending: int = 8
    retry_after_s: int = 2
    explain_top_k: int = 8
    cors_origins: tuple[str, ...] = ()
    cookie_secure: bool = True
    session_hours: float = 12.0
    claim_minutes: float = 10.0
    max_failed_logins: int = 10
    max_failed_logins_per_client: int = 30
    max_failed_logins_per_name: int = 100
    migrate: bool = True

    def __post_init__(self) -> None:
        if self.level_model is None and self.binary_model is None:
            raise SettingsError(
                "Expected a level model, a binary model or both. Got neither; train one with "
                "'sosrisk train --task level --out DIR' and pass DIR."
            )
        for name in ("level_model", "binary_model"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        positive_ints = (
            "max_body_bytes",
            "max_posts",
            "max_chars",
            "workers",
            "max_pending",
            "explain_top_k",
            "max_connections",
        )
        login_limits = ("max_failed_logins", "max_failed_logins_per_client", "max_failed_logins_per_name")
        for name in (*positive_ints, "retry_after_s", *login_limits):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"The {name!r} setting must be an int >= 1. Got {value!r} instead.")
        for name in ("request_timeout_s", "header_timeout_s", "session_hours", "claim_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise SettingsError(f"The {name!r} setting must be a number > 0. Got {value!r} instead.")
        value = self.health_interval_s
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise SettingsError(f"The 'health_interval_s' setting must be a number >= 0. Got {value!r} instead.")
        if self.max_pending < self.workers:
            raise SettingsError(
                f"The 'max_pending' setting ({self.max_pending}) must be at least 'workers' ({self.workers})."
            )
        origins = tuple(self.cors_origins)
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise SettingsError(f"A CORS origin must look like 'https://team.example.org'. Got {origin!r} instead.")
        object.__setattr__(self, "cors_origins", origins)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (the database password, if any, hidden)."""
        from sqlalchemy.engine import make_url

        values: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            values[item.name] = str(value) if isinstance(value, Path) else value
        values["db_url"] = make_url(self.db_url).render_as_string(hide_password=True)
        values["cors_origins"] = list(self.cors_origins)
        return values


def resolve_model_dirs(
    model_dir: Path | None, level: Path | None = None, binary: Path | None = None
) -> tuple[Path | None, Path | None]:
    """Which directory serves which task, for ``sosrisk serve MODEL_DIR [--level M1 --binary M2]``.

    ``MODEL_DIR`` is a model directory (its task decides its role) or a folder holding ``level/`` and/or
    ``binary/`` model directories.
    """
    if model_dir is not None:
        config = model_dir / CONFIG_NAME
        if config.is_file():
            try:
                task = json.loads(config.read_text(encoding="utf-8")).get("task")
            except (json.JSONDecodeError, AttributeError):
                raise ModelError(f"{config}: not a valid model config.json.") from None
            if task == "level":
                level = _only_one("level", model_dir, level)
            elif task == "binary":
                binary = _only_one("binary", model_dir, binary)
            else:
                raise ModelError(f"{config}: expected task 'level' or 'binary'. Got {task!r} instead.")
        else:
            found = False
            for task in ("level", "binary"):
                if (model_dir / task / CONFIG_NAME).is_file():
                    found = True
                    if task == "level":
                        level = _only_one("level", model_dir / task, level)
                    else:
                        binary = _only_one("binary", model_dir / task, binary)
            if not found:
                raise ModelError(
                    f"{model_dir} is not a model directory ({CONFIG_NAME} is missing) and holds no level/ or "
                    "binary/ model directory. Pass a folder written by 'sosrisk train --out'."
                )
    if level is None and binary is None:
        raise ModelError("Expected MODEL_DIR, --level or --binary: the service needs at least one model.")
    return level, binary


def _only_one(task: str, found: Path, given: Path | None) -> Path:
    if given is not None and given != found:
        raise ModelError(f"Two {task} models given: {found} and --{task} {given}. Keep one of them.")
    return found


@dataclass
class ServedModels:
    """The loaded models and what the service says about them."""

    level: RiskModel | None
    binary: RiskModel | None

    @classmethod
    def load(cls, settings: ServeSettings) -> ServedModels:
        """Load the settings' model directories, checking each holds a model of its task."""
        from ..models import load_model

        loaded: dict[str, RiskModel | None] = {"level": None, "binary": None}
        for task, path in (("level", settings.level_model), ("binary", settings.binary_model)):
            if path is None:
                continue
            model = load_model(path)
            if model.task != task:
                raise ModelError(
                    f"{path} holds a {model.task!r} model, but it was given as the {task} model. "
                    f"Pass it as --{model.task} instead."
                )
            loaded[task] = model
        return cls(loaded["level"], loaded["binary"])

    def models(self) -> dict[str, RiskModel]:
        """The models present, by task."""
        return {task: m for task, m in (("level", self.level), ("binary", self.binary)) if m is not None}

    def info(self) -> dict[str, Any]:
        """Short identification of each model, stored with every queued post."""
        from .explain import explanation_method

        info = {}
        for task, model in self.models().items():
            training = model.training_ or {}
            stage = model.scope_
            info[task] = {
                "kind": model.kind,
                "task": model.task,
                "trained_at": training.get("trained_at"),
                "data_fingerprint": training.get("data_fingerprint"),
                "explanation": explanation_method(model),
                "scope": (
                    None
                    if stage is None
                    else {"threshold": round(stage.threshold, 6), "rules_version": stage.rules_version}
                ),
            }
        return info

    def scope_decided_by(self) -> str | None:
        """Which model's scope stage decides scope (as :func:`sosrisk.assess.decide_scope` does: the level
        model's if it has one, else the binary model's), or ``None`` when neither has one."""
        return next((task for task, model in self.models().items() if model.scope_ is not None), None)

    def cards(self) -> dict[str, Any]:
        """The model cards for ``GET /v1/model``: each model's config (settings, calibration, decision
        rule, training record, cross-validated metrics, its scope stage as ``scope_.describe()`` says, or
        ``None``) without file names."""
        cards = {}
        for task, model in self.models().items():
            card = model.config()
            card["explanation"] = self.info()[task]["explanation"]
            cards[task] = card
        return cards

    def scope_card(self) -> dict[str, Any]:
        """What ``GET /v1/model`` says about scope: which model's stage decides it, and the safety-net rules
        that run (family, name, floor and description of each), or none."""
        from ..scope import danger
        from ..scope.rules import RULE_SET, RULES_VERSION

        decided_by = self.scope_decided_by()
        stage = self.models()[decided_by].scope_ if decided_by is not None else None
        with_rules = stage is not None and stage.rules
        rules = (
            [
                {"family": rule.family, "rule": rule.name, "floor": rule.floor, "description": rule.description}
                for rule in RULE_SET
            ]
            if with_rules
            else []
        )
        net_rules = []
        if stage is not None and stage.danger is not None:
            net_rules = [danger.RULE] + ([danger.INSIDE_RULE] if stage.danger.inside_threshold_ is not None else [])
            net_rules += [danger.GUARDED_RULE] if stage.danger.guarded_threshold_ is not None else []
        if stage is not None and stage.farewell is not None:
            net_rules.append(danger.FAREWELL_RULE)
        if stage is not None and stage.raiser is not None:
            net_rules.append(danger.RAISER_RULE)
        rules += [
            {
                "family": danger.FAMILY,
                "rule": rule,
                "floor": danger.FLOOR,
                "description": danger.RULE_DESCRIPTIONS[rule],
            }
            for rule in net_rules
        ]
        return {"decided_by": decided_by, "rules_version": RULES_VERSION if with_rules else None, "rules": rules}
