"""The officials' data page (/data) and the public blacklist page in Chromium (issue 15).

Signs in through the page's own form, checks a file with a bad row (nothing written),
imports a clean one, shows a statutory table, and opens the public blacklist; no
Content-Security-Policy violation and no console error on the way. Screenshots go to
/work/shots/15-*.png (desktop and 360×640).
"""

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.sites.credit_code import make_credit_code
from tests.conftest import TEST_PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("RISKATLAS_SHOTS", "/work/shots"))

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
expect = playwright_api.expect
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("Chromium is not installed", allow_module_level=True)

CSP_REPORTER = """
document.addEventListener('securitypolicyviolation', (e) => window.raCsp(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`));
"""


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def codes(engine: Engine) -> Iterator[list[str]]:
    rng = random.Random(1515)
    made = [make_credit_code(rng, "640104") for _ in range(3)]
    yield made
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM enterprises WHERE credit_code = ANY(:codes)"), {"codes": made}
        )


def _csv(codes: list[str], *, bad: bool) -> bytes:
    lines = ["企业名称,统一社会信用代码,行业,经度,纬度"]
    lines += [
        f"页面导入企业{i},{code},工贸,{106.28 + i / 1000},38.47" for i, code in enumerate(codes)
    ]
    if bad:
        lines.append("坏代码企业,91640104MA00000000,工贸,106.28,38.47")
    return ("\n".join(lines) + "\n").encode()


def _context(browser, width: int, height: int, problems: list[str]):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.expose_function("raCsp", lambda message: problems.append(message))
    context.add_init_script(CSP_REPORTER)
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
    )
    return context, page


def test_data_page_checks_imports_and_reports(
    browser, live_server_url: str, live_users: dict[str, str], codes: list[str], engine: Engine
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    context, page = _context(browser, 1280, 900, problems)
    try:
        page.goto(f"{live_server_url}/data")
        page.fill("#signin input[name=username]", live_users["admin"])
        page.fill("#signin input[name=password]", TEST_PASSWORD)
        page.click("#signin button")
        page.wait_for_selector("#work", state="visible")

        page.set_input_files(
            "#file",
            {"name": "qiye.csv", "mimeType": "text/csv", "buffer": _csv(codes[:2], bad=True)},
        )
        page.click("#check")
        expect(page.locator("#import-summary")).to_contain_text("检查完成")
        assert "2 行通过，1 行被拒绝" in page.inner_text("#import-summary")
        rejected = page.inner_text("#import-rows tbody tr.rejected")
        assert "统一社会信用代码" in rejected and "GB 32100" in rejected
        assert page.is_disabled("#commit"), "a file with refused rows cannot be committed"
        page.screenshot(path=str(SHOTS / "15-data-check.png"), full_page=True)

        # A file it cannot read: said in Chinese, and the last file's report goes away.
        page.set_input_files(
            "#file", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}
        )
        page.click("#check")
        expect(page.locator("#import-summary")).to_contain_text("无法读取此文件")
        assert page.is_hidden("#import-rows") and page.is_hidden("#report-xlsx")
        # The browser logs the expected 422 of that upload; nothing else may be logged.
        problems[:] = [p for p in problems if "status of 422" not in p]

        page.set_input_files(
            "#file", {"name": "qiye.csv", "mimeType": "text/csv", "buffer": _csv(codes, bad=False)}
        )
        page.click("#check")
        expect(page.locator("#commit")).to_be_enabled()
        page.click("#commit")
        expect(page.locator("#import-summary")).to_contain_text("导入完成")
        assert "新增 3" in page.inner_text("#import-summary")
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT count(*) FROM enterprises WHERE credit_code = ANY(:c)"), {"c": codes}
            ).scalar_one()
        assert stored == 3
        page.screenshot(path=str(SHOTS / "15-data-commit.png"), full_page=True)

        page.select_option("#report-kind", "danger-statistics")
        page.fill("#reports input[name=region]", "640100")
        page.click("#reports button[type=submit]")
        page.wait_for_selector("#report-view table")
        assert "合计" in page.inner_text("#report-view")
        page.screenshot(path=str(SHOTS / "15-data-report.png"), full_page=True)
        assert problems == []
    finally:
        context.close()

    phone_problems: list[str] = []
    context, phone = _context(browser, 360, 640, phone_problems)
    try:
        phone.goto(f"{live_server_url}/data")
        phone.wait_for_selector("#signin", state="visible")
        phone.screenshot(path=str(SHOTS / "15-data-phone-signin.png"))
        # An official's own region is where the tables start.
        phone.fill("#signin input[name=username]", live_users["official"])
        phone.fill("#signin input[name=password]", TEST_PASSWORD)
        phone.click("#signin button")
        phone.wait_for_selector("#work", state="visible")
        assert phone.input_value("#reports input[name=region]") == "640000"
        phone.screenshot(path=str(SHOTS / "15-data-phone-official.png"), full_page=True)
        phone.goto(f"{live_server_url}/blacklist")
        phone.wait_for_selector("#empty, #list tbody tr", state="attached")
        phone.screenshot(path=str(SHOTS / "15-blacklist-phone.png"), full_page=True)
        assert phone_problems == []
    finally:
        context.close()
