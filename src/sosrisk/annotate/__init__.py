"""LLM-assisted pre-annotation with the paper's two prompt strategies, robust answer parsing, a resumable
ledger, a review file for annotators, and agreement with expert labels."""

from __future__ import annotations

from .agreement import Agreement, agreement, compare_review
from .parse import AnnotatedRow, ParsedAnswer, parse_answer
from .prompts import STRATEGIES, annotation_messages
from .run import (
    Annotation,
    AnnotationRun,
    annotate_posts,
    is_review_file,
    read_review,
    render_review,
    review_levels,
    write_review,
)

__all__ = [
    "STRATEGIES",
    "Agreement",
    "AnnotatedRow",
    "Annotation",
    "AnnotationRun",
    "ParsedAnswer",
    "agreement",
    "annotate_posts",
    "annotation_messages",
    "compare_review",
    "is_review_file",
    "parse_answer",
    "read_review",
    "render_review",
    "review_levels",
    "write_review",
]
