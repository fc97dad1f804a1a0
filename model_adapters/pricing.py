"""List prices (USD per million tokens: input, output) for the cost estimate of API runs.

Prices change: these are published list prices at the time of writing, matched by model-name
prefix (longest first). ``price_in`` / ``price_out`` model args override them; an unknown model
gets no estimate rather than a wrong one.
"""

from __future__ import annotations

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
}


def estimate_cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    price_in: float | None = None,
    price_out: float | None = None,
) -> float | None:
    known = next(
        (p for name, p in sorted(LIST_PRICES_USD_PER_MTOK.items(), key=lambda kv: -len(kv[0]))
         if model.startswith(name)),
        (None, None),
    )  # fmt: skip
    price_in = known[0] if price_in is None else float(price_in)
    price_out = known[1] if price_out is None else float(price_out)
    if price_in is None or price_out is None:
        return None
    return (input_tokens * price_in + output_tokens * price_out) / 1e6
