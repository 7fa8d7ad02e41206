"""Steller reference server: partner API, admin API, money engine, fulfilment against Bamboo."""
