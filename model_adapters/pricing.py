"""List prices (USD per million tokens: input, output) for the cost estimate of API runs.

Prices change: these are published list prices at the time of writing. A model matches an entry
by its exact name or the name plus a snapshot suffix (``claude-haiku-4-5-20251001``,
``gpt-4o-2024-08-06``, ``gemini-2.0-flash-001``, ``...-latest``), never by a bare prefix: a
newer model (``claude-opus-5-7``) or a variant (``gemini-2.5-flash-lite``) gets no estimate
rather than its neighbour's price. ``price_in`` / ``price_out`` model args override them.
"""

from __future__ import annotations

import re

LIST_PRICES_USD_PER_MTOK = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4-vision-preview": (10.00, 30.00),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
    # Claude: platform.claude.com/docs/en/about-claude/pricing and /docs/en/models/overview, read
    # 2026-12-03 (base input and output; Haiku 5.5: its band for prompts up to 100k tokens).
    "claude-fable-5-2": (8.00, 40.00),
    "claude-fable-5-1": (10.00, 50.00),
    "claude-mythos-5-1": (10.00, 50.00),
    "claude-fable-5": (10.00, 50.00),
    "claude-mythos-5": (10.00, 50.00),
    "claude-opus-5-5": (4.00, 20.00),
    "claude-opus-5": (5.00, 25.00),
    "claude-opus-4-8": (5.00, 25.00),
    "claude-opus-4-7": (5.00, 25.00),
    "claude-opus-4-6": (5.00, 25.00),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-sonnet-5-5": (2.00, 10.00),
    "claude-sonnet-5": (2.00, 10.00),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-haiku-5-5": (0.10, 0.50),
    "claude-haiku-4-5": (1.00, 5.00),
}
# What may follow a listed name: a dated or numbered snapshot, or the "latest" alias.
SNAPSHOT_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|-\d{3}|-latest)?")


def list_price(model: str) -> tuple[float, float] | None:
    """The listed (input, output) price of ``model`` or of the model it is a snapshot of."""
    for name, price in LIST_PRICES_USD_PER_MTOK.items():
        if model.startswith(name) and SNAPSHOT_SUFFIX.fullmatch(model[len(name) :]):
            return price
    return None


def estimate_cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    price_in: float | None = None,
    price_out: float | None = None,
) -> float | None:
    known = list_price(model) or (None, None)
    price_in = known[0] if price_in is None else float(price_in)
    price_out = known[1] if price_out is None else float(price_out)
    if price_in is None or price_out is None:
        return None
    return (input_tokens * price_in + output_tokens * price_out) / 1e6
