"""lmms-eval's requests to a simple (non-chat) model, read in one place.

``Instance.args`` is a positional tuple whose second field depends on the request type:

- ``generate_until``: ``(context, gen_kwargs, doc_to_visual, doc_id, task, split)``
- ``loglikelihood``: ``(context, doc_to_target, doc_to_visual, doc_id, task, split)``, where
  ``doc_to_target`` is the continuation itself or a function of the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One request with its document looked up in the model's ``task_dict``."""

    context: str
    images: list  # the document's visuals, ``None`` entries left out
    task: str
    doc_id: int
    gen_kwargs: dict = field(default_factory=dict)  # generate_until: the task's settings
    continuation: str = ""  # loglikelihood: the text whose log-probability is asked for


def generation_request(args: tuple, task_dict: dict) -> Request:
    context, gen_kwargs, doc_to_visual, doc_id, task, split = args
    doc = task_dict[task][split][doc_id]
    return Request(context, _images(doc_to_visual, doc), task, doc_id, gen_kwargs=dict(gen_kwargs))


def loglikelihood_request(args: tuple, task_dict: dict) -> Request:
    context, doc_to_target, doc_to_visual, doc_id, task, split = args
    doc = task_dict[task][split][doc_id]
    continuation = doc_to_target if isinstance(doc_to_target, str) else doc_to_target(doc)
    return Request(context, _images(doc_to_visual, doc), task, doc_id, continuation=continuation)


def describe(args: tuple) -> str:
    """Which request this is, for error messages (without loading its images)."""
    return f"task {args[4]!r}, document {args[3]}"


def _images(doc_to_visual, doc) -> list:
    return [v for v in doc_to_visual(doc) or [] if v is not None]
