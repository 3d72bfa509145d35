"""Amounts in whole cents."""

from decimal import Decimal


def to_cents(amount: Decimal) -> int:
    """An amount of money as whole cents (ArithmeticError for NaN or infinity)."""
    return int((amount * 100).to_integral_value())
