"""Unified social credit codes (GB 32100-2015) and organisation codes (GB 11714)."""

import random

import pytest

from app.sites.credit_code import (
    CHARSET,
    check_character,
    is_valid_credit_code,
    is_valid_org_code,
    make_credit_code,
    org_check_character,
)

# Publicly printed codes: the example used in many validator write-ups, and 华为技术有限公司.
KNOWN_VALID = ["91350100M000100Y43", "914403001922038216"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_are_valid(code):
    assert is_valid_credit_code(code)
    assert check_character(code[:17]) == code[17]
    assert is_valid_org_code(code[8:17])


def test_check_character_worked_example():
    # 9 1 3 5 0 1 0 0 M 0 0 0 1 0 0 Y 4 with weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28
    values = [CHARSET.index(ch) for ch in "91350100M000100Y4"]
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(v * w for v, w in zip(values, weights, strict=True))
    assert total % 31 == 28
    assert check_character("91350100M000100Y4") == "3"


def test_org_check_character_worked_example():
    # M=22, Y=34: 22·3 + 1·5 + 34·2 = 139, 139 mod 11 = 7, 11 − 7 = 4
    assert org_check_character("M000100Y") == "4"
    # 10 → 'X', 11 → '0'
    assert org_check_character("40000000") == "X"  # 4·3 = 12, 12 mod 11 = 1, 11 − 1 = 10
    assert org_check_character("00000000") == "0"  # Σ = 0, 11 − 0 = 11


def test_org_check_character_x():
    # Find a body whose check is X and confirm the rule 11 − (Σ mod 11) = 10.
    rng = random.Random(3)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(8))
        total = sum(int(c) * w for c, w in zip(body, [3, 7, 9, 10, 5, 8, 4, 2], strict=True))
        if total % 11 == 1:
            assert org_check_character(body) == "X"
            break
    else:
        pytest.fail("no body with check X found")


def test_check_character_31_becomes_zero():
    # All zeros: Σ = 0, 31 − 0 = 31 → '0'.
    assert check_character("0" * 17) == "0"
    assert is_valid_credit_code("0" * 18)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "",
        "91350100M000I00Y43",  # I is not in the character set
        "91350100M000O00Y43",  # O
        "91350100M000S00Y43",  # S
        "91350100M000V00Y43",  # V
        "91350100M000Z00Y43",  # Z
        "91350100m000100y43",  # lower case is not accepted
        "９1350100M000100Y43",  # full-width digit
    ],
)
def test_invalid_codes(code):
    assert not is_valid_credit_code(code)


def test_non_string_is_invalid():
    assert not is_valid_credit_code(None)  # type: ignore[arg-type]
    assert not is_valid_credit_code(913501001)  # type: ignore[arg-type]


def test_single_character_change_is_detected():
    code = KNOWN_VALID[0]
    for i in range(17):
        for ch in CHARSET:
            if ch != code[i]:
                assert not is_valid_credit_code(code[:i] + ch + code[i + 1 :])


def test_check_character_rejects_bad_input():
    with pytest.raises(ValueError):
        check_character("91350100M000100Y")
    with pytest.raises(ValueError):
        check_character("91350100M000I00Y4")
    with pytest.raises(ValueError):
        org_check_character("M000100")


def test_make_credit_code_is_valid_and_structured():
    rng = random.Random(20240601)
    codes = [make_credit_code(rng, "640181") for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert is_valid_credit_code(code)
        assert code.startswith("91640181")
        assert is_valid_org_code(code[8:17])
    assert any(code[8:10] == "MA" for code in codes)
    assert any(code[8:16].isdigit() for code in codes)


def test_make_credit_code_is_deterministic():
    a = [make_credit_code(random.Random(7), "640104") for _ in range(3)]
    b = [make_credit_code(random.Random(7), "640104") for _ in range(3)]
    assert a == b


def test_make_credit_code_rejects_bad_county():
    with pytest.raises(ValueError):
        make_credit_code(random.Random(1), "6401")
    with pytest.raises(ValueError):
        make_credit_code(random.Random(1), "64018A")
