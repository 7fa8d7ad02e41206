"""The Bamboo vendor client: ``BambooClient`` plus its typed results, limits and errors."""

from steller_server.vendor.bamboo import BambooClient, RetryPolicy
from steller_server.vendor.errors import (
    VendorAuthError,
    VendorError,
    VendorOrderNotFound,
    VendorProtocolError,
    VendorRateLimited,
    VendorRejected,
    VendorUnavailable,
)
from steller_server.vendor.limits import BambooLimits, VendorLimiter
from steller_server.vendor.models import (
    FINAL_ORDER_STATUSES,
    Account,
    Brand,
    Card,
    CatalogPage,
    Category,
    ExchangeRates,
    NotificationConfig,
    OrderItem,
    OrderLine,
    OrderReportRow,
    Price,
    Product,
    TransactionRow,
    VendorOrder,
)

__all__ = [
    "FINAL_ORDER_STATUSES",
    "Account",
    "BambooClient",
    "BambooLimits",
    "Brand",
    "Card",
    "CatalogPage",
    "Category",
    "ExchangeRates",
    "NotificationConfig",
    "OrderItem",
    "OrderLine",
    "OrderReportRow",
    "Price",
    "Product",
    "RetryPolicy",
    "TransactionRow",
    "VendorAuthError",
    "VendorError",
    "VendorLimiter",
    "VendorOrder",
    "VendorOrderNotFound",
    "VendorProtocolError",
    "VendorRateLimited",
    "VendorRejected",
    "VendorUnavailable",
]
