"""sosrisk: suicide-risk assessment of Chinese social-media posts on the SOS-1K scale.

Decision support for trained people, never a diagnosis or an automatic action.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
