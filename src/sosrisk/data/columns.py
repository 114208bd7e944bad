"""Column names of post files: ours, and the names we accept for them (no heavy imports: batch scoring uses it)."""

from __future__ import annotations

# Our column names and the names we accept for them in files (first is ours).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "comment"),
    "risk_level": ("risk_level", "myLabel"),
    "high_risk": ("high_risk", "twoClass"),
    "id": ("id", "post_id"),
}
