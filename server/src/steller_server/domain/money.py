"""Currencies, minor units and the ONE rounding rule (half-up at the currency exponent).

The database holds integers in minor units; JSON holds decimal strings at the currency exponent
("52.50", JPY "5250", BHD "1.250"). Every conversion from an exact :class:`Decimal` to minor units
goes through :func:`round_minor`, the only place that rounds.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

__all__ = [
    "AMOUNT_PATTERN",
    "CURRENCY_EXPONENTS",
    "exponent",
    "format_amount",
    "format_decimal",
    "from_minor",
    "is_exact",
    "parse_amount",
    "round_minor",
    "to_minor",
    "to_minor_exact",
]

#: ISO 4217 exponents that differ from 2 plus the common 2-digit ones; unknown codes use 2.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "AED": 2,
    "AUD": 2,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "DKK": 2,
    "EGP": 2,
    "HKD": 2,
    "INR": 2,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "QAR": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "TRY": 2,
    "ZAR": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "VND": 0,
    "UGX": 0,
    "XAF": 0,
    "XOF": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "LYD": 3,
    "IQD": 3,
}
DEFAULT_EXPONENT = 2

#: The wire format of an ``Amount`` (up to 4 decimals, optional minus sign).
AMOUNT_PATTERN = re.compile(r"^-?[0-9]+(\.[0-9]{1,4})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Number of decimals of ``currency`` (ISO 4217). Memoised: it runs several times per price
    and per rendered amount (a catalog page renders hundreds)."""
    if not _CURRENCY.match(currency):
        raise ValueError(f"not a currency code: {currency!r}")
    return CURRENCY_EXPONENTS.get(currency, DEFAULT_EXPONENT)


def round_minor(value: Decimal) -> int:
    """Round an exact amount already expressed in minor units to an integer, half-up.

    This is the single rounding point of the money engine.
    """
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(amount: Decimal, currency: str) -> int:
    """Major-unit ``amount`` to minor units, rounding half-up at the exponent (52.505 → 5251)."""
    return round_minor(amount.scaleb(exponent(currency)))


def is_exact(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` has no more decimals than the currency allows."""
    scaled = amount.scaleb(exponent(currency))
    return scaled == scaled.to_integral_value()


def to_minor_exact(amount: Decimal, currency: str) -> int:
    """Major units to minor units; ``ValueError`` when it would need rounding."""
    if not is_exact(amount, currency):
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(amount.scaleb(exponent(currency)))


def from_minor(minor: int, currency: str) -> Decimal:
    """Minor units to a Decimal at the currency exponent (5250, USD → Decimal('52.50'))."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def format_amount(minor: int, currency: str) -> str:
    """The wire string of a wallet amount: 5250 USD → "52.50", 5250 JPY → "5250"."""
    return format(from_minor(minor, currency), "f")


def format_decimal(value: Decimal, *, max_places: int = 4, min_places: int = 0) -> str:
    """A Decimal as a plain string with trailing zeros trimmed (-5.0000 → "-5", 1.1 → "1.1")."""
    quantized = value.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    text = format(quantized, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if min_places:
        whole, _, frac = text.partition(".")
        text = f"{whole}.{frac.ljust(min_places, '0')}"
    if text in ("-0", "-0.0"):
        text = text[1:]
    return text


def parse_amount(text: str) -> Decimal:
    """Parse a wire ``Amount`` ("52.50"); ``ValueError`` unless it matches the Amount pattern."""
    if not isinstance(text, str) or not AMOUNT_PATTERN.match(text):
        raise ValueError(f"not a decimal amount: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern rules this out
        raise ValueError(f"not a decimal amount: {text!r}") from None
