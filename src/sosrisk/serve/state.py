"""What the routes share: the settings, the models, the database engine and the bounded work pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from ..assess import Assessment, assess
from .explain import explain_assessments
from .limits import WorkPool
from .settings import ServedModels, ServeSettings
from .store import Enqueued, QueueItem, database_problem, enqueue, transaction


@dataclass
class ServiceState:
    """What the routes share: settings, models, database engine and the bounded work pool."""

    settings: ServeSettings
    models: ServedModels
    engine: Engine
    pool: WorkPool
    model_info: dict[str, Any]
    _healthy_at: float | None = field(default=None, init=False, repr=False)
    _health_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def database_problem(self) -> str | None:
        """Why the database cannot take writes now, or ``None`` (see :func:`~sosrisk.serve.store.database_problem`).

        A healthy answer is reused for ``settings.health_interval_s``; a problem is probed again on every
        call, and a request that met an unavailable database forgets the healthy answer."""
        with self._health_lock:
            healthy_at = self._healthy_at
            if healthy_at is not None and time.monotonic() - healthy_at < self.settings.health_interval_s:
                return None
            problem = database_problem(self.engine)
            self._healthy_at = time.monotonic() if problem is None else None
            return problem

    def database_failed(self) -> None:
        """A request met an unavailable database: the next health check probes it again."""
        self._healthy_at = None

    def score(
        self, texts: Sequence[str], with_explanations: bool
    ) -> tuple[list[Assessment], list[list[dict[str, Any]]]]:
        """Assess ``texts`` (and explain them): runs on a worker thread of the pool."""
        assessments = assess(texts, level_model=self.models.level, binary_model=self.models.binary)
        if not with_explanations:
            return assessments, [[] for _ in texts]
        explanations = explain_assessments(
            texts,
            assessments,
            level_model=self.models.level,
            binary_model=self.models.binary,
            top_k=self.settings.explain_top_k,
        )
        return assessments, explanations

    def enqueue(self, items: Sequence[QueueItem], actor: str) -> list[Enqueued]:
        """Queue assessed posts in one committed transaction."""
        with transaction(self.engine) as connection:
            return enqueue(connection, items, actor=actor)
