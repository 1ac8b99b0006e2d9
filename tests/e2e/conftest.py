"""Shared by the browser suites: the built web app, the server, Debian's Chromium with a WAV file
as its microphone, screenshots, and checks every page must pass."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.audio_prep import customer_channel_clip
from tests.server import running_server
from wingman.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
DEMO_CALL = ROOT / "src" / "wingman" / "data" / "demo" / "sample_call.wav"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
]
LAPTOP = {"width": 1366, "height": 800}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def web_dist() -> Path:
    """The built web app; rebuilt only if its sources changed (make test has built it already)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-web.sh")], check=True, cwd=ROOT)
    dist = ROOT / "web" / "dist"
    assert (dist / "index.html").is_file()
    return dist


@pytest.fixture(scope="module")
def mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the fake microphone plays: the customer's side of the demo call, mono."""
    out = tmp_path_factory.mktemp("audio") / "customer.wav"
    return customer_channel_clip(DEMO_CALL, out)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-data"), web_dist=web_dist,
                        host="127.0.0.1", auth="local")
    with running_server(settings) as url:
        load_sample(url)
        yield url


def load_sample(url: str) -> None:
    """The demo call is about the sample company: load it as "Try with sample data" does."""
    httpx.post(f"{url}/api/sample", timeout=120).raise_for_status()


@pytest.fixture(scope="module")
def browser(mic_wav: Path) -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={mic_wav}"],
        )
        try:
            yield b
        finally:
            b.close()


class PageErrors:
    """Uncaught exceptions in the page: any of them fails the test."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check(self) -> None:
        assert self.errors == [], f"uncaught errors in the page: {self.errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP, permissions=["microphone"])
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def get_json(url: str, token: str | None = None) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def secured_url(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-secured"), web_dist=web_dist,
                        host="127.0.0.1", auth="required", sample_knowledge=False)
    with running_server(settings) as url:
        yield url


PASSWORD = "correct horse battery"  # the password of the users the suites make
ADMIN_EMAIL = "ada@acme.example"


def register_admin(http: httpx.Client) -> httpx.Response:
    """Ada Admin signs up through the API: the first account, so the workspace's admin."""
    admin = http.post("/api/auth/register",
                      json={"email": ADMIN_EMAIL, "name": "Ada Admin", "password": PASSWORD})
    admin.raise_for_status()
    return admin


def join_by_invitation(http: httpx.Client, admin_token: str, email: str) -> httpx.Response:
    """Ria Rep, invited by the admin with `admin_token`, accepts the invitation at `email`."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    link = http.post("/api/invitations", headers=auth, json={"email": email}).json()["link"]
    rep = http.post("/api/invitations/accept",
                    json={"token": link.split("token=", 1)[1], "name": "Ria Rep", "password": PASSWORD})
    rep.raise_for_status()
    return rep



# ---------------------------------------------------------------- checks every page must pass

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"  # pinned in web/package.json
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (the context needs
    bypass_csp=True: the page's CSP would refuse the injected script)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
    )
    return found


def sideways_scroll(page: Page) -> int:
    """How many pixels the document is wider than the viewport (0: no horizontal scroll)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def in_view(page: Page, selector: str) -> bool:
    """Whether the element is wholly inside the viewport as the page stands (no scrolling)."""
    inside: bool = page.eval_on_selector(
        selector,
        """el => { const r = el.getBoundingClientRect();
                   return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }""",
    )
    return inside


def unreachable_by_tab(page: Page) -> list[str]:
    """The visible controls that pressing Tab from the top of the page never reaches."""
    total: int = page.evaluate(
        """() => {
            const sel = 'a[href], button:not([disabled]), input:not([disabled]), select, textarea, '
                      + 'summary, [tabindex]:not([tabindex="-1"])';
            const shown = [...document.querySelectorAll(sel)].filter(el => el.getClientRects().length > 0
                && getComputedStyle(el).visibility !== 'hidden');
            shown.forEach((el, i) => el.setAttribute('data-kb', String(i)));
            document.activeElement?.blur?.();
            return shown.length;
        }"""
    )
    reached: set[str] = set()
    for _ in range(total + 10):
        page.keyboard.press("Tab")
        key = page.evaluate("document.activeElement?.getAttribute('data-kb')")
        if key is not None:
            reached.add(key)
    missed: list[str] = page.evaluate(
        """reached => [...document.querySelectorAll('[data-kb]')]
            .filter(el => !reached.includes(el.getAttribute('data-kb')))
            .map(el => el.outerHTML.slice(0, 120))""",
        sorted(reached),
    )
    return missed
