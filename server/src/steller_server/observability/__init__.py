"""Operations visibility: Prometheus metrics (``metrics``) and structured, redacted logs
(``logging``). See docs/operations.md."""
