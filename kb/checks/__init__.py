"""Numeric tests: one module per KB entry, each with ``check() -> kb.schema.CheckResult``."""
