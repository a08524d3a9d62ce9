"""The blacklist on the officials' web map, in a real browser: the blacklisted-only filter of
the enterprise layer (its tiles, the legend's and panel's counts, the URL) and the listing
in the dossier — on a desktop and on a 360×640 phone.

Uses the live server, demo and browser of tests/test_frontend.py. Screenshots go to
/work/shots/15b-*.png (when that directory exists) and test-artifacts/.
"""

# The fixtures of tests/test_frontend.py are imported and then named as parameters.
# ruff: noqa: F811

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.risk import grading
from tests.test_frontend import (  # noqa: F401
    NINGXIA,
    Page,
    _session_of,
    browser,
    demo,
    server,
    sessions,
)

SHOTS = Path("/work/shots")
LEVELS = ("red", "orange", "yellow", "blue")
LISTED = 5  # demo enterprises put on the blacklist


def _shot(page: Page, name: str) -> None:
    path = page.screenshot(f"15b-{name}.png")
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / path.name)


@pytest.fixture(scope="module")
def listed(engine: Engine, demo: dict[str, int]) -> Iterator[dict[str, object]]:
    """Five demo enterprises of 宁夏 listed (committed, re-graded); removed afterwards and
    re-graded back. Yields their ids and their colours by level once listed."""
    today = date.today()
    with Session(engine) as session, session.begin():
        ids = list(
            session.scalars(
                text(
                    "SELECT id FROM enterprises WHERE id > :after AND county_code LIKE '64%'"
                    " ORDER BY id LIMIT :n"
                ),
                {"after": demo["enterprises"], "n": LISTED},
            )
        )
        session.execute(
            text("""
            INSERT INTO blacklist_entries (county_code, enterprise_id, reason, legal_basis,
                                           decided_on, listed_until, decided_by)
            SELECT county_code, id, '未按规定整改重大事故隐患', '《安全生产严重失信主体名单管理办法》第六条',
                   :decided, :until, 'live-nx-official'
              FROM enterprises WHERE id = ANY(:ids)"""),
            {
                "ids": ids,
                "decided": today - timedelta(days=10),
                "until": today + timedelta(days=300),
            },
        )
        grading.refresh_enterprise_levels(session, ids=ids)
        levels = dict(
            session.execute(
                text(
                    "SELECT risk_level, count(*) FROM enterprises WHERE id = ANY(:ids) GROUP BY 1"
                ),
                {"ids": ids},
            ).all()
        )
    yield {"ids": ids, "levels": {level: levels.get(level, 0) for level in LEVELS}}
    with Session(engine) as session, session.begin():
        session.execute(
            text("DELETE FROM blacklist_entries WHERE enterprise_id = ANY(:ids)"), {"ids": ids}
        )
        grading.refresh_enterprise_levels(session, ids=ids)


@pytest.fixture
def official(browser, server: str, sessions: dict[str, dict]) -> Iterator[Page]:
    """The official of 宁夏 (640000)."""
    opened = Page(browser, server, session=sessions["official"])
    yield opened
    opened.close()


def _legend(page: Page, column: str) -> dict[str, int]:
    legend = page.page.locator("#legend")
    return {
        level: int(
            legend.locator(f"td[data-legend='{column}'][data-level='{level}']")
            .inner_text()
            .replace(",", "")
        )
        for level in LEVELS
    }


def _panel_total(page: Page) -> int:
    cell = page.page.locator("#panel-body tr[data-row='enterprises'] td b")
    return int(cell.inner_text().replace(",", ""))


def test_the_blacklist_filter_shows_the_listed_enterprises_only(
    official: Page, listed: dict
) -> None:
    page = official
    page.open(f"/#/{NINGXIA}?l=choropleth,enterprises")
    page.wait_ready(NINGXIA)
    everyone = _legend(page, "enterprises")
    painted = page.painted("enterprises")
    assert sum(everyone.values()) > LISTED and painted > 0
    page.requests.clear()

    page.page.locator("#blacklist-filter").check()
    page.page.wait_for_function(
        "() => (document.body.dataset.filteredCounts || '').includes('blacklisted=true')"
    )
    page.wait_tiles()
    tiles = [u for u in page.requests if "/tiles/enterprises/" in u]
    assert tiles and all("blacklisted=true" in u for u in tiles)
    assert _legend(page, "enterprises") == listed["levels"]
    assert _panel_total(page) == LISTED
    assert 0 < page.painted("enterprises") < painted
    assert "b=1" in page.page.url
    _shot(page, "map-blacklisted")

    # The filter survives a reload (it is in the URL), and turning it off restores the counts.
    page.page.reload()
    page.wait_ready(NINGXIA)
    assert page.page.locator("#blacklist-filter").is_checked()
    page.page.wait_for_function(
        "() => (document.body.dataset.filteredCounts || '').includes('blacklisted=true')"
    )
    assert _panel_total(page) == LISTED
    page.page.locator("#blacklist-filter").uncheck()
    page.page.wait_for_function("() => !document.querySelector('#legend small')")
    page.wait_tiles()
    assert _legend(page, "enterprises") == everyone
    assert "b=1" not in page.page.url
    assert page.errors == [] and page.violations == []


def test_the_dossier_shows_the_listing_and_why_the_level_rose(official: Page, listed: dict) -> None:
    page = official
    enterprise = listed["ids"][0]
    page.open(f"/#/{NINGXIA}?e={enterprise}")
    page.page.locator("#dossier-blacklist").wait_for()
    assert "未按规定整改重大事故隐患" in page.page.locator("#dossier-blacklist").inner_text()
    assert "列入黑名单" in page.page.locator("#dossier-basis").inner_text()
    _shot(page, "dossier")
    assert page.errors == []


def test_the_public_has_no_blacklist_filter(browser, server: str, listed: dict) -> None:
    public = Page(browser, server)
    try:
        public.open(f"/#/{NINGXIA}?b=1")
        public.wait_ready(NINGXIA)
        assert public.page.locator("#blacklist-filter").count() == 0
        assert not [u for u in public.requests if "blacklisted" in u]
        assert public.errors == []
    finally:
        public.close()


def test_the_filter_on_a_phone(browser, server: str, sessions: dict, listed: dict) -> None:
    phone = Page(browser, server, width=360, height=640, session=sessions["official"])
    try:
        phone.open(f"/#/{NINGXIA}?l=choropleth,enterprises&b=1")
        phone.wait_ready(NINGXIA)
        page = phone.page
        page.wait_for_function(
            "() => (document.body.dataset.filteredCounts || '').includes('blacklisted=true')"
        )
        phone.wait_tiles()
        _shot(phone, "phone-map")
        page.locator("#layers-open").click()
        # The control scrolls on a phone (half the screen high): the filter is its last row.
        page.locator("#blacklist-filter").scroll_into_view_if_needed()
        box = page.locator("#blacklist-filter").bounding_box()
        control = page.locator("#layers-control").bounding_box()
        assert box and control
        assert (
            control["y"] <= box["y"]
            and box["y"] + box["height"] <= control["y"] + control["height"]
        )
        assert 0 <= box["x"] and box["x"] + box["width"] <= 360
        assert page.locator("#blacklist-filter").is_checked()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
        _shot(phone, "phone-layers")
        page.locator("#panel-toggle").click()
        page.wait_for_timeout(400)
        assert _panel_total(phone) == LISTED
        page.locator("#panel-body tr[data-row='enterprises']").scroll_into_view_if_needed()
        _shot(phone, "phone-panel")
        assert phone.errors == []
    finally:
        phone.close()
