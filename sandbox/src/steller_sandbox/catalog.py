"""A realistic, deterministic catalogue of brands and products.

Ids, names and SKUs are fixed by the tables below and never depend on the seed; the seed only
changes prices (discounts), stock counts and modified dates.

SKU scheme: ``<BRAND CODE>-<ISO country>-<face value>`` for fixed products (``AMZ-US-50``,
``STM-DE-20``, ``ITN-GB-25``) and ``<BRAND CODE>-<ISO country>-VAR`` for range products
(``AMZ-US-VAR``). The test brand's products are ``SIM-…`` (see ``steller_sandbox.scenarios``).

Categories are carried as Bamboo does: each catalogue item (brand) lists category **ids** in
``categories: [int]``, and ``GET /api/integration/v2.0/categories`` names them
(:data:`CATEGORIES`; ids 1, 2, 3, 17 and 30 are the ones bamboo.md names).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from steller_sandbox.scenarios import SCENARIO_SKUS

__all__ = ["CATEGORIES", "Brand", "Catalog", "Category", "Product", "build_catalog"]

TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class _Market:
    country: str
    currency: str
    label: str


MARKETS = {
    "US": _Market("US", "USD", "US"),
    "GB": _Market("GB", "GBP", "UK"),
    "DE": _Market("DE", "EUR", "Germany"),
    "FR": _Market("FR", "EUR", "France"),
    "AE": _Market("AE", "AED", "UAE"),
    "SA": _Market("SA", "SAR", "Saudi Arabia"),
}


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    description: str


#: The vendor's category list. bamboo.md gives Entertainment=1, Gaming=2, Prepaid Cards=3,
#: Crypto=17 and Petroleum=30 (ids 1..30); the others are the simulator's own.
CATEGORIES: tuple[Category, ...] = tuple(
    Category(id_, name, f"{name} gift cards and vouchers.")
    for id_, name in (
        (1, "Entertainment"),
        (2, "Gaming"),
        (3, "Prepaid Cards"),
        (4, "Shopping"),
        (5, "Electronics"),
        (6, "Food & Drink"),
        (7, "Travel"),
        (8, "Fashion"),
        (9, "Beauty"),
        (10, "Home"),
        (11, "Sports"),
        (17, "Crypto"),
        (29, "Testing"),
        (30, "Petroleum"),
    )
)
_CATEGORY_IDS = {c.name: c.id for c in CATEGORIES}

_WESTERN = (10, 25, 50, 100)
_GULF = (50, 100, 250, 500)

# code, brand, markets, has a range product, category
_FAMILIES: tuple[tuple[str, str, tuple[str, ...], bool, str], ...] = (
    ("AMZ", "Amazon", ("US", "GB", "DE", "FR", "AE"), True, "Shopping"),
    ("STM", "Steam", ("US", "GB", "DE", "AE"), False, "Gaming"),
    ("ITN", "iTunes", ("US", "GB", "DE", "FR", "AE"), False, "Entertainment"),
    ("GPL", "Google Play", ("US", "GB", "DE", "FR", "AE", "SA"), True, "Entertainment"),
    ("NFX", "Netflix", ("US", "GB", "DE", "FR", "AE", "SA"), False, "Entertainment"),
    ("PSN", "PlayStation", ("US", "GB", "DE", "FR", "AE", "SA"), False, "Gaming"),
    ("XBX", "Xbox", ("US", "GB", "DE", "AE"), False, "Gaming"),
    ("NTD", "Nintendo eShop", ("US", "GB", "DE", "FR"), False, "Gaming"),
    ("SPT", "Spotify", ("US", "GB", "DE", "FR"), False, "Entertainment"),
    ("UBR", "Uber", ("US", "GB", "AE"), True, "Travel"),
    ("RZR", "Razer Gold", ("US", "AE", "SA"), False, "Gaming"),
    ("RBX", "Roblox", ("US", "GB", "DE"), False, "Gaming"),
)

# code, brand name, market, has a range product, category
_LOCALS: tuple[tuple[str, str, str, bool, str], ...] = (
    ("WMT", "Walmart", "US", True, "Shopping"),
    ("TGT", "Target", "US", True, "Shopping"),
    ("BBY", "Best Buy", "US", True, "Electronics"),
    ("SBX", "Starbucks", "US", False, "Food & Drink"),
    ("DDS", "DoorDash", "US", True, "Food & Drink"),
    ("HMD", "Home Depot", "US", True, "Home"),
    ("TSC", "Tesco", "GB", True, "Shopping"),
    ("ARG", "Argos", "GB", True, "Shopping"),
    ("DLV", "Deliveroo", "GB", False, "Food & Drink"),
    ("MNS", "Marks & Spencer", "GB", True, "Fashion"),
    ("ZAL", "Zalando", "DE", True, "Fashion"),
    ("MMK", "MediaMarkt", "DE", True, "Electronics"),
    ("FNC", "Fnac", "FR", True, "Electronics"),
    ("SPH", "Sephora", "FR", True, "Beauty"),
    ("DCT", "Decathlon", "FR", True, "Sports"),
    ("NOO", "Noon", "AE", True, "Shopping"),
    ("CRF", "Carrefour", "AE", True, "Shopping"),
    ("VOX", "VOX Cinemas", "AE", False, "Entertainment"),
    ("JRR", "Jarir Bookstore", "SA", True, "Shopping"),
)

TEST_BRAND_ID = "9999"


@dataclass
class Product:
    """One orderable denomination. ``count`` is mutable stock (None = unlimited)."""

    id: int
    sku: str
    name: str
    brand_id: str
    currency: str
    min_face_value: Decimal
    max_face_value: Decimal
    discount: Decimal
    count: int | None
    modified: datetime
    status: str = "Live"
    price_invalid: bool = False

    @property
    def is_range(self) -> bool:
        return self.min_face_value < self.max_face_value

    @property
    def is_active(self) -> bool:
        return self.status == "Live"

    def unit_price(self, face_value: Decimal) -> Decimal:
        """The client's cost for one card of ``face_value``, in the product currency."""
        factor = (Decimal(100) - self.discount) / Decimal(100)
        return (face_value * factor).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass
class Brand:
    internal_id: str
    code: str
    name: str
    country: str
    currency: str
    category: str
    modified: datetime
    products: list[Product] = field(default_factory=list)

    @property
    def category_ids(self) -> list[int]:
        return [_CATEGORY_IDS[self.category]]

    @property
    def logo_url(self) -> str:
        return (
            f"https://sandbox.steller.example/logos/{self.code.lower()}-{self.country.lower()}.png"
        )


@dataclass
class Catalog:
    brands: list[Brand]

    def __post_init__(self) -> None:
        self.by_id = {p.id: p for b in self.brands for p in b.products}
        self.by_sku = {p.sku: p for b in self.brands for p in b.products}
        self.brand_of = {p.id: b for b in self.brands for p in b.products}

    @property
    def products(self) -> list[Product]:
        return [p for b in self.brands for p in b.products]


def _face_values(market: _Market) -> tuple[int, ...]:
    return _GULF if market.currency in {"AED", "SAR"} else _WESTERN


def _range(market: _Market) -> tuple[int, int]:
    return (10, 2000) if market.currency in {"AED", "SAR"} else (5, 500)


def build_catalog(seed: int) -> Catalog:
    """Build the catalogue; the same seed always gives the same catalogue."""
    rng = random.Random(seed)  # noqa: S311 - simulated data, not security
    epoch = datetime(2024, 1, 1, tzinfo=UTC)

    def modified() -> datetime:
        seconds = rng.randrange(0, 180 * 86400)
        return epoch + timedelta(seconds=seconds, microseconds=rng.randrange(10**6))

    def discount() -> Decimal:
        return Decimal(rng.randrange(5000, 90000)) / Decimal(10000)

    def stock() -> int | None:
        return None if rng.random() < 0.8 else rng.randrange(5, 500)

    entries: list[tuple[str, str, _Market, bool, str]] = []
    for code, name, markets, has_range, category in _FAMILIES:
        for cc in markets:
            market = MARKETS[cc]
            entries.append((code, f"{name} {market.label}", market, has_range, category))
    for code, name, cc, has_range, category in _LOCALS:
        market = MARKETS[cc]
        entries.append((code, f"{name} {market.label}", market, has_range, category))

    brands: list[Brand] = []
    for index, (code, brand_name, market, has_range, category) in enumerate(entries, start=1):
        brand = Brand(
            internal_id=str(2000 + index),
            code=code,
            name=brand_name,
            country=market.country,
            currency=market.currency,
            category=category,
            modified=modified(),
        )
        product_id = 400000 + index * 10
        for value in _face_values(market):
            product_id += 1
            brand.products.append(
                Product(
                    id=product_id,
                    sku=f"{code}-{market.country}-{value}",
                    name=f"{brand_name} {value} {market.currency}",
                    brand_id=brand.internal_id,
                    currency=market.currency,
                    min_face_value=Decimal(value),
                    max_face_value=Decimal(value),
                    discount=discount(),
                    count=stock(),
                    modified=modified(),
                )
            )
        if has_range:
            low, high = _range(market)
            product_id += 1
            brand.products.append(
                Product(
                    id=product_id,
                    sku=f"{code}-{market.country}-VAR",
                    name=f"{brand_name} {low}-{high} {market.currency}",
                    brand_id=brand.internal_id,
                    currency=market.currency,
                    min_face_value=Decimal(low),
                    max_face_value=Decimal(high),
                    discount=discount(),
                    count=None,
                    modified=modified(),
                )
            )
        brands.append(brand)
    brands.append(_test_brand(epoch))
    return Catalog(brands)


def _test_brand(epoch: datetime) -> Brand:
    brand = Brand(
        internal_id=TEST_BRAND_ID,
        code="SIM",
        name="Steller Test Brand",
        country="US",
        currency="USD",
        category="Testing",
        modified=epoch,
    )
    specs: list[tuple[str, int, int, int | None, str, bool]] = [
        ("SIM-OK-10", 10, 10, None, "Live", False),
        ("SIM-US-VAR", 1, 1000, None, "Live", False),
        ("SIM-LOW-10", 10, 10, 3, "Live", False),
        ("SIM-OOS-10", 10, 10, 0, "Live", False),
        ("SIM-DISABLED-10", 10, 10, None, "TemporaryInactive", False),
        ("SIM-PRICEINVALID-10", 10, 10, None, "Live", True),
    ]
    specs += [(sku, 10, 10, None, "Live", False) for sku in SCENARIO_SKUS if sku != "SIM-OOS-10"]
    for offset, (sku, low, high, count, status, price_invalid) in enumerate(specs, start=1):
        brand.products.append(
            Product(
                id=999000 + offset,
                sku=sku,
                name=f"Steller Test {sku.removeprefix('SIM-')} USD",
                brand_id=TEST_BRAND_ID,
                currency="USD",
                min_face_value=Decimal(low),
                max_face_value=Decimal(high),
                discount=Decimal("5.0000"),
                count=count,
                modified=epoch,
                status=status,
                price_invalid=price_invalid,
            )
        )
    return brand
