"""The HTTP service and the triage pages, with the review queue in a real database.

``sosrisk.serve.store`` needs only SQLAlchemy and Alembic (batch scoring queues posts through it);
``sosrisk.serve.app.create_app`` builds the FastAPI application. Both come with ``pip install
"sosrisk[serve]"``. Nothing heavy is imported here.
"""

from __future__ import annotations
