"""HTTP handlers. Each module registers its routes; errors.py holds the one error contract."""
