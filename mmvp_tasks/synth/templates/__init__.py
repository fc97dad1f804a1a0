"""Question templates, one module per visual pattern; each template draws one contrastive pair.

A template takes the run's :class:`~mmvp_tasks.synth.canvas.DrawContext` and returns a
:class:`~mmvp_tasks.synth.canvas.Pair` whose two images differ exactly in the asked property. To add
one, write it in its pattern's module and append it to that module's ``TEMPLATES``. Any change
here changes the generated files: bump ``VERSION`` in ``mmvp_tasks.synth.writer``.
"""

from __future__ import annotations

from collections.abc import Callable

from mmvp_tasks.synth.canvas import DrawContext, Pair
from mmvp_tasks.synth.templates import (
    color,
    orientation,
    position,
    presence,
    quantity,
    state,
    structure,
    text,
    viewpoint,
)

Template = Callable[[DrawContext], Pair]

# In PATTERNS order: the picker draws its random starts in this order.
TEMPLATES_BY_PATTERN: dict[str, tuple[Template, ...]] = {
    "od": orientation.TEMPLATES,
    "pf": presence.TEMPLATES,
    "sc": state.TEMPLATES,
    "qc": quantity.TEMPLATES,
    "pr": position.TEMPLATES,
    "ca": color.TEMPLATES,
    "sh": structure.TEMPLATES,
    "tx": text.TEMPLATES,
    "vp": viewpoint.TEMPLATES,
}


class TemplatePicker:
    """Cycles through each pattern's templates from a random start, so all get used evenly."""

    def __init__(self, ctx: DrawContext) -> None:
        self._next = {code: ctx.integer(0, len(t)) for code, t in TEMPLATES_BY_PATTERN.items()}

    def pair(self, ctx: DrawContext, code: str) -> Pair:
        templates = TEMPLATES_BY_PATTERN[code]
        i = self._next[code]
        self._next[code] = (i + 1) % len(templates)
        return templates[i](ctx)
