"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

An 18-character code:

    position  1     registration authority (登记管理部门代码): 9 = market regulation (工商)
    position  2     organisation type (机构类别代码): 1 = enterprise under authority 9
    positions 3-8   the administrative division of the registering authority (GB/T 2260)
    positions 9-17  the organisation code (组织机构代码, GB 11714): 8 characters and its own
                    check character (0-9 or X)
    position  18    the GB 32100 check character

Characters come from "0123456789ABCDEFGHJKLMNPQRTUWXY" (no I, O, S, V, Z), each worth its
index (0..30). Check character = 31 − (Σ value·weight mod 31), 31 becoming '0'.
GB 11714 values digits as 0-9 and letters as A=10 … Z=35; its check character is
11 − (Σ value·weight mod 11), 10 becoming 'X' and 11 becoming '0'.
"""

import random

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_VALUES = {ch: i for i, ch in enumerate(CHARSET)}
_DIGITS = "0123456789"
# Newly issued organisation codes (since 2015) start "MA"; the rest of the body uses the
# characters legal in a credit code.
_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def check_character(first17: str) -> str:
    """Return the GB 32100 check character of the first 17 characters of a credit code."""
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    total = 0
    for i, (ch, weight) in enumerate(zip(first17, WEIGHTS, strict=True)):
        value = _VALUES.get(ch)
        if value is None:
            raise ValueError(f"{ch!r} at position {i + 1} is not a credit-code character")
        total += value * weight
    return CHARSET[(31 - total % 31) % 31]


def _org_value(ch: str) -> int:
    if ch in _DIGITS:
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    raise ValueError(f"{ch!r} is not an organisation-code character")


def org_check_character(first8: str) -> str:
    """Return the GB 11714 check character of an organisation code's first 8 characters."""
    if len(first8) != 8:
        raise ValueError(f"expected 8 characters, got {len(first8)}")
    total = sum(_org_value(ch) * w for ch, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_valid_org_code(code: str) -> bool:
    """True when `code` is 9 characters whose last is the GB 11714 check character."""
    if not isinstance(code, str) or len(code) != 9:
        return False
    try:
        return org_check_character(code[:8]) == code[8]
    except ValueError:
        return False


def is_valid_credit_code(code: str) -> bool:
    """True when `code` is 18 upper-case credit-code characters with the right check character.

    Only the GB 32100 check is enforced: some legally issued codes carry an organisation
    code without a valid GB 11714 check (use `is_valid_org_code(code[8:17])` to test it).
    """
    if not isinstance(code, str) or len(code) != 18 or any(ch not in _VALUES for ch in code):
        return False
    return check_character(code[:17]) == code[17]


def make_credit_code(rng: random.Random, county_code: str) -> str:
    """Return a valid enterprise credit code (authority 9, type 1) registered in a county.

    Most codes get a newly issued organisation code ("MA" + 6 characters), the rest an
    older all-digit one; both carry their GB 11714 check character.
    """
    if len(county_code) != 6 or not county_code.isdigit():
        raise ValueError(f"{county_code!r} is not a 6-digit administrative division code")
    if rng.random() < 0.7:
        body = "MA" + "".join(rng.choice(_BODY_CHARS) for _ in range(6))
    else:
        body = "".join(rng.choice(_DIGITS) for _ in range(8))
    org_code = body + org_check_character(body)
    first17 = "91" + county_code + org_code
    return first17 + check_character(first17)
