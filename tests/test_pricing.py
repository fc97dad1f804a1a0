"""The cost estimate's price table: snapshots match their model, neighbours never do."""

from __future__ import annotations

import pytest

from model_adapters.pricing import estimate_cost_usd, list_price


@pytest.mark.parametrize(
    "model, price",
    [
        ("claude-sonnet-5-5", (2.00, 10.00)),
        ("claude-haiku-4-5-20251001", (1.00, 5.00)),  # a dated snapshot
        ("claude-opus-5", (5.00, 25.00)),
        ("claude-opus-5-5", (4.00, 20.00)),  # not claude-opus-5's price
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("gpt-4o-mini", (0.15, 0.60)),  # not gpt-4o's price
        ("gemini-2.0-flash-001", (0.10, 0.40)),
        ("claude-opus-5-7", None),  # a newer model: no estimate rather than a neighbour's price
        ("claude-mythos-5-2", None),
        ("gemini-2.5-flash-lite", None),
        ("my-finetune", None),
    ],
)
def test_list_price(model, price):
    assert list_price(model) == price


def test_cost_from_tokens_and_overrides():
    # claude-sonnet-5-5: 2 USD per million tokens in, 10 out
    assert estimate_cost_usd("claude-sonnet-5-5", 1_000_000, 100_000) == pytest.approx(3.0)
    assert estimate_cost_usd("claude-sonnet-5-5", 1_000_000, 0, price_in=1.5) == pytest.approx(1.5)
    assert estimate_cost_usd("my-finetune", 1_000_000, 0) is None
    assert estimate_cost_usd("my-finetune", 1_000_000, 0, 1, 2) == pytest.approx(1.0)
