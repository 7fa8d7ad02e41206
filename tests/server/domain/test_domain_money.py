"""Minor units, exponents and the single half-up rounding rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from steller_server.domain import money


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("52.50", "USD", 5250),
        ("52.505", "USD", 5251),
        ("52.504", "USD", 5250),
        ("5250", "JPY", 5250),
        ("0.5", "JPY", 1),
        ("1.2505", "BHD", 1251),
        ("-1.005", "USD", -101),
    ],
)
def test_to_minor_rounds_half_up_at_the_exponent(amount: str, currency: str, minor: int) -> None:
    assert money.to_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (5250, "USD", "52.50"),
        (5250, "JPY", "5250"),
        (1250, "BHD", "1.250"),
        (-5, "EUR", "-0.05"),
        (0, "KWD", "0.000"),
    ],
)
def test_format_amount_renders_at_the_currency_exponent(
    minor: int, currency: str, text: str
) -> None:
    assert money.format_amount(minor, currency) == text
    assert money.to_minor(money.from_minor(minor, currency), currency) == minor


def test_exact_conversion_refuses_extra_decimals() -> None:
    assert money.to_minor_exact(Decimal("50.00"), "USD") == 5000
    with pytest.raises(ValueError, match="more decimals"):
        money.to_minor_exact(Decimal("50.001"), "USD")
    with pytest.raises(ValueError, match="more decimals"):
        money.to_minor_exact(Decimal("10.5"), "JPY")


@pytest.mark.parametrize("text", ["1", "52.50", "-5", "0.0001"])
def test_parse_amount_accepts_the_wire_pattern(text: str) -> None:
    assert money.parse_amount(text) == Decimal(text)


@pytest.mark.parametrize("text", ["", "1.", ".5", "1e3", "52.12345", "NaN", " 1", "1,00"])
def test_parse_amount_rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a decimal amount"):
        money.parse_amount(text)


def test_format_decimal_trims_and_never_shows_minus_zero() -> None:
    assert money.format_decimal(Decimal("-5.0000")) == "-5"
    assert money.format_decimal(Decimal("1.10")) == "1.1"
    assert money.format_decimal(Decimal("-0.00001")) == "0"
    assert money.exponent("XYZ") == 2
    with pytest.raises(ValueError, match="currency"):
        money.exponent("usd")
