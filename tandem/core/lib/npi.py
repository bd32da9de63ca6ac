"""National Provider Identifier check digit (Luhn over the prefix 80840 + first nine digits)."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def npi_check_digit(first_nine: str) -> int:
    """The tenth digit that makes ``first_nine`` a valid NPI."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    # Luhn: double every second digit counting from the right of the payload (which will
    # be followed by the check digit).
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    return len(value) == 10 and value.isdigit() and npi_check_digit(value[:9]) == int(value[9])


def validate_npi(value: str) -> None:
    if not is_valid_npi(value):
        raise ValidationError(f"{value!r} is not a valid NPI (10 digits with a Luhn check digit)")
