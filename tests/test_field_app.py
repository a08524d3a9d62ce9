"""Issue 13: the wardens' phone page /m and the public tip-off page in Chromium at 360×640.

A grid cell over 兴庆区, a warden of it, and two enterprises with a red and an orange risk
point are committed for this module (removed afterwards); the app is served by uvicorn on a
free port with its own data directory (evidence photos). The phone's position is set by
Playwright's geolocation override. Screenshots: /work/shots/13-*.png.
"""

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.conftest import TEST_PASSWORD, live_token, served_app
from tests.factories import XINGQING, enterprise_payload, lec_point

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/work/shots")
CELL = "640104-F1"
WARDEN = "field-warden"
PHONE = (XINGQING[0] + 0.004, XINGQING[1] + 0.003)  # a few hundred metres from the sites

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("Chromium is not installed", allow_module_level=True)

REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => window.raCspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} in ${e.documentURI}`));
"""


@pytest.fixture(scope="module")
def server(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn on the test database, its own data directory (photos, signing key)."""
    env = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RISKATLAS_DATA_DIR": str(tmp_path_factory.mktemp("field-data")),
    }
    with served_app(env) as url:
        yield url


@pytest.fixture(scope="module")
def field(
    engine: Engine, server: str, live_users: dict[str, str], password_hash: str
) -> Iterator[dict[str, Any]]:
    """The committed cell, warden and sites; deleted afterwards."""
    with Session(engine) as session, session.begin():
        session.execute(
            text(
                "INSERT INTO grid_cells (code, name, county_code, geom, source) "
                "SELECT :cell, '巡查测试网格', '640104', geom, 'imported' "
                "FROM regions WHERE code = '640104'"
            ),
            {"cell": CELL},
        )
        session.add(
            User(username=WARDEN, role="warden", password_hash=password_hash, grid_cells=[CELL])
        )
    headers = {"Authorization": f"Bearer {live_token(server, live_users['admin'])}"}
    sites = []
    for offset, lec, person in ((0.0, (6, 6, 15), "张安全"), (0.006, (3, 6, 15), "李管控")):
        where = (XINGQING[0] + offset, XINGQING[1])
        enterprise = httpx.post(
            f"{server}/api/enterprises",
            json=enterprise_payload(
                where, responsible_person=person, responsible_phone="13800138000"
            ),
            headers=headers,
            timeout=30,
        ).json()
        point = {
            **lec_point(enterprise["id"], *lec, lon_lat=where),
            "name": f"液氨储罐区{len(sites) + 1}",
            "control_measures": "液位报警联锁，每班巡检",
            "responsible_person": person,
            "responsible_phone": "13800138000",
        }
        created = httpx.post(f"{server}/api/risk-points", json=point, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        sites.append({"enterprise": enterprise, "point": created.json()})
    yield {"sites": sites}
    ids = [site["enterprise"]["id"] for site in sites]
    with Session(engine) as session, session.begin():
        session.execute(
            text("DELETE FROM inspections WHERE enterprise_id = ANY(:ids)"), {"ids": ids}
        )
        session.execute(
            text("DELETE FROM hidden_dangers WHERE grid_code = :cell OR enterprise_id = ANY(:ids)"),
            {"cell": CELL, "ids": ids},
        )
        session.execute(text("DELETE FROM leads WHERE county_code = '640104'"))
        session.execute(text("DELETE FROM enterprises WHERE id = ANY(:ids)"), {"ids": ids})
        session.execute(text("DELETE FROM grid_cells WHERE code = :cell"), {"cell": CELL})
        session.execute(text("DELETE FROM users WHERE username = :u"), {"u": WARDEN})
        session.execute(text("SELECT rebuild_region_counts()"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-gpu"],
        )
        yield browser
        browser.close()


class Phone:
    """A 360×640 phone at PHONE, with its page errors and CSP violations."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(
            viewport={"width": 360, "height": 640},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            geolocation={"longitude": PHONE[0], "latitude": PHONE[1]},
            permissions=["geolocation"],
        )
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.context.expose_function(
            "raCspViolation", lambda report: self.violations.append(report)
        )
        self.context.add_init_script(REPORT_CSP_VIOLATIONS)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.base = base

    def _console(self, message: Any) -> None:
        # Basemap tiles come from the internet, which the test machine does not reach.
        if message.type == "error" and "ERR_NAME_NOT_RESOLVED" not in message.text:
            if "ERR_INTERNET_DISCONNECTED" not in message.text:
                self.errors.append(message.text)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"13-{name}.png"))


def _count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def _photo() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "#c0392b").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_warden_patrols_from_the_phone(
    browser: Any, server: str, field: dict, engine: Engine
) -> None:
    phone = Phone(browser, server)
    page = phone.page
    page.goto(f"{server}/m")
    page.fill("input[name=username]", WARDEN)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("#form-login button[type=submit]")
    page.wait_for_selector("#nearby [data-feature]", timeout=20_000)
    assert page.text_content("#where-text") == "您在这里"
    # The page draws the grid itself (no street basemap loads here): the warden's cell filled.
    page.wait_for_selector("#map path[fill-opacity='0.1']", state="attached", timeout=10_000)
    names = page.locator("#nearby .name").all_text_contents()
    assert "液氨储罐区1" in names and "液氨储罐区2" in names
    # Only the red: the orange site leaves the list (and the map) until asked back.
    page.click("#btn-red-only")
    red = page.locator("#nearby .name").all_text_contents()
    assert "液氨储罐区1" in red and "液氨储罐区2" not in red
    assert page.get_attribute("#btn-red-only", "aria-pressed") == "true"
    page.click("#btn-red-only")
    assert len(page.locator("#nearby .name").all_text_contents()) == len(names)
    first = page.locator("#nearby .item").first
    assert "米" in first.locator(".dist").text_content()
    # Never inspected: both enterprises are overdue, listed first and flagged in the list.
    page.wait_for_selector("#overdue .item")
    assert page.locator("#overdue .item").count() == 2
    assert "逾期未检查" in first.text_content()
    phone.shot("list")

    page.click(f"#nearby [data-feature='risk_points.{field['sites'][0]['point']['id']}']")
    page.wait_for_selector("#sheet:not([hidden])")
    assert page.get_attribute("#sheet a.tel", "href") == "tel:13800138000"
    assert "液位报警联锁" in page.text_content("#sheet-body")
    page.wait_for_function(
        "() => document.getElementById('latest-inspection').textContent === '尚无检查记录'"
    )
    phone.shot("card")

    page.click("#btn-inspect")
    page.uncheck("#form-inspect input[value='消防设施完好有效']")
    page.fill("#form-inspect input[name=finding]", "灭火器压力不足")
    page.click("#form-inspect button[type=submit]")
    enterprise_id = field["sites"][0]["enterprise"]["id"]
    page.wait_for_function("() => document.getElementById('btn-outbox').hidden")
    # The sheet has closed: the warden is told over the map that the record went out.
    page.wait_for_function(
        "() => { const toast = document.getElementById('toast');"
        " return !toast.hidden && toast.textContent === '已发送 1 条记录'; }"
    )
    inspections = (
        "SELECT count(*) FROM inspections WHERE enterprise_id = :e AND kind = 'grid_check'"
    )
    assert _count(engine, inspections, e=enterprise_id) == 1
    assert _count(engine, "SELECT count(*) FROM hidden_dangers WHERE title = '灭火器压力不足'") == 1

    # A "photo" that is not an image is refused on the phone, not dropped: nothing queued.
    page.click("#btn-report")
    page.fill("#form-report input[name=title]", "照片不是图片")
    page.set_input_files(
        "#form-report input[name=photos]",
        files=[{"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"}],
    )
    page.click("#form-report button[type=submit]")
    page.wait_for_selector("#form-report .form-error:not([hidden])")
    assert "无法读取" in page.text_content("#form-report .form-error")
    assert page.is_hidden("#btn-outbox")
    page.click("#sheet-close")
    assert _count(engine, "SELECT count(*) FROM hidden_dangers WHERE title = '照片不是图片'") == 0

    # Offline: the report waits on the phone, with its photo, and says so.
    phone.context.set_offline(True)
    page.wait_for_function("() => document.getElementById('net').textContent === '离线'")
    page.click("#btn-report")
    page.fill("#form-report input[name=title]", "路边违规堆放液化气瓶")
    page.set_input_files(
        "#form-report input[name=photos]",
        files=[{"name": "p.png", "mimeType": "image/png", "buffer": _photo()}],
    )
    page.click("#form-report button[type=submit]")
    page.wait_for_selector("#btn-outbox:not([hidden])")
    assert page.text_content("#outbox-count") == "1"
    assert page.text_content("#toast") == "已保存，联网后发送：隐患 路边违规堆放液化气瓶"
    # The header holds status, 待发送 and the account on one line at 360 px.
    header = page.evaluate(
        "() => { const bar = document.querySelector('header.bar');"
        " return [bar.scrollWidth, bar.clientWidth,"
        " document.getElementById('net').getBoundingClientRect().height]; }"
    )
    assert header[0] <= header[1] and header[2] < 24, header
    page.click("#btn-outbox")
    assert "隐患 路边违规堆放液化气瓶" in page.text_content("#outbox")
    phone.shot("offline-queued")
    title = "SELECT count(*) FROM hidden_dangers WHERE title = '路边违规堆放液化气瓶'"
    assert _count(engine, title) == 0
    # The phone closes the page and opens it again, still offline: the shell comes from
    # the service worker, the report from the outbox and its photo from IndexedDB.
    page.reload()
    page.wait_for_selector("#btn-outbox:not([hidden])")
    assert page.text_content("#outbox-count") == "1"
    # The grid kept from the last answer is drawn without a network.
    page.wait_for_selector("#map path[fill-opacity='0.1']", state="attached", timeout=10_000)
    page.click("#btn-outbox")

    # Back online: sent once, its photo attached; sending again changes nothing.
    phone.context.set_offline(False)
    page.wait_for_function("() => document.getElementById('btn-outbox').hidden", timeout=20_000)
    assert _count(engine, title) == 1
    photos = (
        "SELECT count(*) FROM evidence_files f JOIN hidden_dangers d ON d.id = f.danger_id"
        " WHERE d.title = '路边违规堆放液化气瓶'"
    )
    assert _count(engine, photos) == 1
    page.click("#btn-send")
    page.wait_for_timeout(500)
    assert _count(engine, title) == 1
    phone.shot("sent")

    page.click("[data-tab=resources]")
    page.wait_for_selector("#resources li")
    assert phone.violations == [] and phone.errors == []
    phone.context.close()


def test_a_retry_after_a_lost_answer_is_recorded_once(
    browser: Any, server: str, field: dict, engine: Engine
) -> None:
    """The first answer never reaches the phone (the connection drops after the server
    committed): the outbox sends again with the same key and the server replays."""
    phone = Phone(browser, server)
    page = phone.page
    dropped: list[str] = []

    def drop_first_answer(route: Any) -> None:
        response = route.fetch()
        if not dropped:
            dropped.append(response.text())
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.goto(f"{server}/m")
    page.fill("input[name=username]", WARDEN)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("#form-login button[type=submit]")
    page.wait_for_selector("#nearby [data-feature]", timeout=20_000)
    page.route("**/api/leads", drop_first_answer)
    page.click("#btn-lead")
    page.select_option("#form-lead select[name=kind]", "unregistered")
    page.fill("#form-lead textarea[name=description]", "无证加油点，夜间经营")
    page.click("#form-lead button[type=submit]")
    page.wait_for_selector("#btn-outbox:not([hidden])")
    leads = "SELECT count(*) FROM leads WHERE description = '无证加油点，夜间经营'"
    for _ in range(100):
        if dropped:
            break
        page.wait_for_timeout(100)
    assert dropped and _count(engine, leads) == 1  # stored, though the phone never heard
    assert page.text_content("#outbox-count") == "1"  # and still waits to be sent
    page.click("#btn-outbox")
    page.click("#btn-send")
    page.wait_for_function("() => document.getElementById('btn-outbox').hidden", timeout=20_000)
    assert _count(engine, leads) == 1
    phone.context.close()


def test_the_public_tips_off_from_the_report_page(
    browser: Any, server: str, field: dict, engine: Engine
) -> None:
    phone = Phone(browser, server)
    page = phone.page
    page.goto(f"{server}/report")
    # The page draws the region outlines from this server's tiles (no street basemap here).
    page.wait_for_selector("#map canvas", state="attached", timeout=10_000)
    page.click("#btn-locate")
    page.wait_for_function("() => document.getElementById('where').textContent.startsWith('地点')")
    page.select_option("select[name=kind]", "illegal_operation")
    page.fill("textarea[name=description]", "居民楼地下室非法储存烟花爆竹")
    page.click("#form-tipoff button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('result').textContent.startsWith('已收到')"
    )
    phone.shot("report")
    tipoffs = "SELECT count(*) FROM leads WHERE source = 'public' AND kind = 'illegal_operation'"
    assert _count(engine, tipoffs) == 1
    assert phone.violations == [] and phone.errors == []
    phone.context.close()


def test_the_page_is_an_installable_app(server: str) -> None:
    manifest = httpx.get(f"{server}/m/manifest.webmanifest", timeout=10)
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/m" and body["display"] == "standalone"
    sizes = {icon["sizes"] for icon in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        assert httpx.get(server + icon["src"], timeout=10).status_code == 200
    worker = httpx.get(f"{server}/m/sw.js", timeout=10)
    assert worker.headers["service-worker-allowed"] == "/m"
    assert "javascript" in worker.headers["content-type"]
    page = httpx.get(f"{server}/m", timeout=10)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and " on" not in page.text.split("<body")[1].split(">")[0]
