"""The SDK's version, sent in the ``User-Agent`` header.

Kept in step with ``sdk/pyproject.toml`` (a test checks the installed metadata agrees).
"""

__title__ = "steller"
__version__ = "0.1.0"
