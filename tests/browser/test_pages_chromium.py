"""What a person sees in a real browser (headless Chromium through chromedriver).

Chromium missing fails these tests with a message (CI installs it); set
VC_ISSUER_SKIP_BROWSER=1 to skip them on a machine without it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from vc_issuer.badges.baking import bake_png, default_badge_png, unbake_png

from ..vc_issuer._pdf import pdf_text, qr_codes, render_png
from .conftest import LiveServer, past

CHROMEDRIVER = os.environ.get("VC_ISSUER_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("VC_ISSUER_CHROMIUM", "/usr/bin/chromium")

if os.environ.get("VC_ISSUER_SKIP_BROWSER") == "1":
    pytest.skip("VC_ISSUER_SKIP_BROWSER=1", allow_module_level=True)

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver, WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the message is the point
    pytest.fail(
        "selenium is not installed: pip install selenium (or VC_ISSUER_SKIP_BROWSER=1)",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [p for p in (CHROMEDRIVER, CHROMIUM) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"headless browser tests need {', '.join(missing)}: apt-get install -y chromium"
            " chromium-driver (or set VC_ISSUER_SKIP_BROWSER=1)",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="vc-issuer-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1100,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: a temporary folder, or $VC_ISSUER_SCREENSHOTS (docs/images to
    refresh the documentation's pictures)."""
    wanted = os.environ.get("VC_ISSUER_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


def snap(driver: WebDriver, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    print(f"screenshot: {path}")
    return path


def verdict(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, ".verdict-label").text)


def visible_text(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_valid_badge_page(live_server: LiveServer, browser: WebDriver, shots: Path) -> None:
    cred = live_server.award(name="Ada Lovelace")
    browser.get(live_server.page_url(cred))
    snap(browser, shots, "credential-valid")
    assert verdict(browser) == "Valid"
    text = visible_text(browser)
    for seen in (
        "Python Basics",
        "Awarded to Ada Lovelace",
        "Example University",
        live_server.issuer.did,
        "Passed the proctored Python Basics exam",
        "Programming",
        "ESCO",
        "The digital signature is intact",
        "The issuer has not revoked it.",
        "It follows the Open Badges 3.0 format.",
        "Credential (JSON)",
        "received a personal claim link",
    ):
        assert seen in text, seen
    # The badge image (baked on the fly) really rendered.
    img = browser.find_element(By.CSS_SELECTOR, "img.badge")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    og = browser.find_element(By.CSS_SELECTOR, 'meta[property="og:title"]')
    assert og.get_attribute("content") == "Python Basics — Ada Lovelace"


def _qr_codes(browser: WebDriver) -> list[Any]:
    """Inline SVG QR codes that really rendered (a laid-out box of a scannable size)."""
    out = browser.find_elements(By.CSS_SELECTOR, "figure.qr svg")
    for svg in out:
        box = browser.execute_script("return arguments[0].getBoundingClientRect()", svg)
        assert box["width"] >= 100 and box["height"] >= 100, box
    return out


def test_claim_page_shows_qr_codes_and_deep_links(
    live_server: LiveServer, browser: WebDriver, shots: Path
) -> None:
    from vc_issuer.badges.claims import ClaimService

    cred = live_server.award(name="Grace Hopper")
    claim = live_server.run(ClaimService(live_server.issuer).create(cred["id"]))
    browser.get(claim.url)
    snap(browser, shots, "claim-page")
    text = visible_text(browser)
    assert "Add “Python Basics” to your wallet" in text
    assert "Learner Credential Wallet" in text and "OpenID4VCI" in text
    assert len(_qr_codes(browser)) == 2
    lcw = browser.find_element(By.ID, "lcw-link")
    assert lcw.text == "Open in Learner Credential Wallet"
    assert str(lcw.get_attribute("href")).startswith("https://lcw.app/request.html?issuer=")
    oid = browser.find_element(By.ID, "oid4vci-link")
    assert str(oid.get_attribute("href")).startswith(
        "openid-credential-offer://?credential_offer_uri="
    )
    # the public page stays free of wallet links; with the learner's token it shows them too
    browser.get(live_server.page_url(cred))
    assert _qr_codes(browser) == []
    assert "received a personal claim link" in visible_text(browser)
    browser.get(live_server.page_url(cred) + "?claim=" + claim.token)
    snap(browser, shots, "credential-with-claim")
    assert len(_qr_codes(browser)) == 2
    assert browser.find_element(By.ID, "lcw-link").is_displayed()


def _expired(live_server: LiveServer) -> dict[str, Any]:
    return live_server.award(awarded=past(400), months=12)


def _revoked(live_server: LiveServer) -> dict[str, Any]:
    cred = live_server.award()
    live_server.run(live_server.issuer.revoke(cred["id"], reason="issued in error"))
    return cred


@pytest.mark.parametrize(
    ("make", "shot", "shown", "says"),
    [
        pytest.param(_expired, "credential-expired", "Expired", "It expired on", id="expired"),
        pytest.param(
            _revoked,
            "credential-revoked",
            "Revoked",
            "The issuer has revoked this credential.",
            id="revoked",
        ),
    ],
)
def test_expired_or_revoked_badge_page(
    live_server: LiveServer,
    browser: WebDriver,
    shots: Path,
    make: Callable[[LiveServer], dict[str, Any]],
    shot: str,
    shown: str,
    says: str,
) -> None:
    cred = make(live_server)
    browser.get(live_server.page_url(cred))
    snap(browser, shots, shot)
    assert verdict(browser) == shown
    assert says in visible_text(browser)


def test_suspended_badge_page(live_server: LiveServer, browser: WebDriver, shots: Path) -> None:
    cred = live_server.award()
    live_server.run(live_server.issuer.suspend(cred["id"]))
    browser.get(live_server.page_url(cred))
    assert verdict(browser) == "Suspended"


def test_unknown_page_is_a_404_page(live_server: LiveServer, browser: WebDriver) -> None:
    browser.get(f"{live_server.base_url}/c/00000000-0000-4000-8000-000000000000")
    assert "Page not found" in visible_text(browser)


def submit(browser: WebDriver) -> None:
    """Press Verify and wait for the next page (the form's button goes stale)."""
    button = browser.find_element(By.ID, "verify-button")
    button.click()
    WebDriverWait(browser, 30).until(lambda _: _gone(button))


def _gone(element: WebElement) -> bool:
    """selenium's ``staleness_of``, also when Chromium answers mid-navigation that the node
    "does not belong to the document" (a plain WebDriverException, seen once in a full run)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in (exc.msg or ""):
            return True
        raise
    return False


def _upload(browser: WebDriver, base_url: str, path: Path) -> None:
    browser.get(f"{base_url}/verify")
    browser.find_element(By.ID, "file").send_keys(str(path))
    submit(browser)


def test_verify_page_accepts_a_baked_png(
    live_server: LiveServer, browser: WebDriver, shots: Path, tmp_path: Path
) -> None:
    cred = live_server.award(name="Grace Hopper")
    png = tmp_path / "badge.png"
    png.write_bytes(bake_png(default_badge_png(), cred))
    browser.get(f"{live_server.base_url}/verify")
    # Every field has a visible label (accessible without JavaScript).
    for field_id in ("json", "file", "url"):
        label = browser.find_element(By.CSS_SELECTOR, f'label[for="{field_id}"]')
        assert label.text.strip()
    snap(browser, shots, "verify-form")
    _upload(browser, live_server.base_url, png)
    snap(browser, shots, "verify-baked-png-valid")
    assert verdict(browser) == "Valid"
    text = visible_text(browser)
    assert "an uploaded file (a baked badge image)" in text
    assert "Grace Hopper" in text
    assert "The digital signature is intact" in text


def test_verify_page_rejects_a_tampered_png(
    live_server: LiveServer, browser: WebDriver, shots: Path, tmp_path: Path
) -> None:
    cred = live_server.award(name="Grace Hopper")
    forged: dict[str, Any] = json.loads(json.dumps(cred))
    forged["credentialSubject"]["name"] = "Mallory"
    png = tmp_path / "tampered.png"
    png.write_bytes(bake_png(default_badge_png(), forged))
    assert unbake_png(png.read_bytes())["credentialSubject"]["name"] == "Mallory"
    _upload(browser, live_server.base_url, png)
    snap(browser, shots, "verify-baked-png-tampered")
    assert verdict(browser) == "Not verified"
    assert "The digital signature does not match" in visible_text(browser)


def test_verify_page_pasted_json(live_server: LiveServer, browser: WebDriver) -> None:
    cred = live_server.award()
    browser.get(f"{live_server.base_url}/verify")
    area = browser.find_element(By.ID, "json")
    browser.execute_script("arguments[0].value = arguments[1]", area, json.dumps(cred))
    submit(browser)
    assert verdict(browser) == "Valid", visible_text(browser)
    assert "pasted JSON" in visible_text(browser)


def test_verify_page_reports_an_image_without_credential(
    live_server: LiveServer, browser: WebDriver, tmp_path: Path
) -> None:
    png = tmp_path / "plain.png"
    png.write_bytes(default_badge_png())
    _upload(browser, live_server.base_url, png)
    assert "We could not read a credential from that image" in visible_text(browser)


# --- share, embed, print, catalog -----------------------------------------------------------------


def _rgb(css: str) -> tuple[float, float, float]:
    parts = [float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return parts[0], parts[1], parts[2]


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(browser: WebDriver, element: Any, background: str | None = None) -> float:
    """WCAG contrast ratio of an element's text against its (or a given) background."""
    style = browser.execute_script(
        "const s = getComputedStyle(arguments[0]); return [s.color, s.backgroundColor]", element
    )
    fg = _luminance(_rgb(style[0]))
    bg_css = background or style[1]
    bg = _luminance(_rgb(bg_css)) if "rgba(0, 0, 0, 0)" not in bg_css else 1.0
    light, dark = max(fg, bg), min(fg, bg)
    return (light + 0.05) / (dark + 0.05)


def focus_ring(browser: WebDriver, element: Any) -> str:
    """The outline a keyboard user sees on ``element`` once it has focus."""
    browser.execute_script("arguments[0].focus()", element)
    assert browser.switch_to.active_element == element
    return str(
        browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", element)
    )


def tab_to(browser: WebDriver, element_id: str, limit: int = 80) -> None:
    """Press Tab from the top of the page until ``element_id`` has focus (keyboard reach)."""
    from selenium.webdriver.common.keys import Keys

    browser.find_element(By.TAG_NAME, "body").click()
    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    for _ in range(limit):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element.get_attribute("id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_share_links_and_embed_card(
    live_server: LiveServer, browser: WebDriver, shots: Path, tmp_path: Path
) -> None:
    cred = live_server.award_design(live_server.design("Data Analysis with Python"), "Ada Lovelace")
    page_url = live_server.page_url(cred)
    browser.get(page_url)
    assert browser.find_elements(By.TAG_NAME, "script") == []  # works without JavaScript
    share = browser.find_element(By.ID, "share")
    browser.execute_script("arguments[0].scrollIntoView()", share)
    share.screenshot(str(shots / "credential-share.png"))
    linkedin = browser.find_element(By.ID, "linkedin-add")
    assert linkedin.text == "Add to LinkedIn profile"
    href = str(linkedin.get_attribute("href"))
    assert href.startswith("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME")
    fields = parse_qs(urlsplit(href).query)
    assert fields["organizationName"] == ["Example University"]
    assert (fields["certUrl"], fields["certId"]) == ([page_url], [cred["id"]])
    for link_id in ("share-linkedin", "share-x", "share-facebook", "share-email"):
        shared = str(browser.find_element(By.ID, link_id).get_attribute("href"))
        assert page_url in " ".join(
            v for vs in parse_qs(urlsplit(shared).query).values() for v in vs
        )
    # Keyboard and contrast: the button is reached with Tab, shows focus, reads at AA.
    tab_to(browser, "linkedin-add")
    assert focus_ring(browser, linkedin) == "solid"
    assert contrast(browser, linkedin) >= 4.5
    # Every field is labelled.
    for field_id in ("page-link", "embed-code"):
        label = browser.find_element(By.CSS_SELECTOR, f'label[for="{field_id}"]')
        assert label.text.strip()
    assert browser.find_element(By.ID, "page-link").get_attribute("value") == page_url
    # The preview card rendered, image included.
    card = browser.find_element(By.ID, "embed-card")
    img = card.find_element(By.TAG_NAME, "img")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    assert "Issued by Example University" in card.text and "Verify this badge" in card.text
    assert (
        contrast(browser, card.find_element(By.CSS_SELECTOR, ".card-issuer"), "rgb(255, 255, 255)")
        >= 4.5
    )
    # The snippet, pasted into another site, is the same card on its own.
    snippet = str(browser.find_element(By.ID, "embed-code").get_attribute("value"))
    with urllib.request.urlopen(
        f"{live_server.base_url}/oembed?format=json&url={page_url}", timeout=30
    ) as resp:
        assert json.loads(resp.read())["html"] == snippet
    site = tmp_path / "site.html"
    site.write_text(
        "<!doctype html><meta charset=utf-8><title>My portfolio</title>"
        "<body style='font-family:serif;padding:24px;background:#f3f3f3'><h1>My badges</h1>"
        f"{snippet}</body>",
        "utf-8",
    )
    browser.get(site.as_uri())
    embedded = browser.find_element(By.CSS_SELECTOR, ".vc-badge-card")
    embedded.screenshot(str(shots / "embed-card.png"))
    img = embedded.find_element(By.TAG_NAME, "img")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    verify = embedded.find_element(By.LINK_TEXT, "Verify this badge")
    assert verify.get_attribute("href") == page_url
    assert embedded.size["width"] <= 360


def test_certificate_link_gives_a_printable_pdf(
    live_server: LiveServer, browser: WebDriver, shots: Path
) -> None:
    cred = live_server.award_design(live_server.design("Secure Web Development"), "Grace Hopper")
    page_url = live_server.page_url(cred)
    browser.get(page_url)
    link = browser.find_element(By.ID, "certificate-link")
    assert link.text == "A4 certificate (PDF)"
    tab_to(browser, "certificate-link")
    with urllib.request.urlopen(str(link.get_attribute("href")), timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/pdf"
        pdf = resp.read()
    assert "Grace Hopper" in pdf_text(pdf) and "Secure Web Development" in pdf_text(pdf)
    png = render_png(pdf, dpi=110)
    assert qr_codes(png) == [page_url]
    (shots / "certificate.png").write_bytes(png)


def test_catalog_achievement_home_and_issuer_pages(
    live_server: LiveServer, browser: WebDriver, shots: Path
) -> None:
    live_server.design("Cloud Foundations", achievementType="Certificate")
    machine = live_server.design(
        "Machine Learning Basics",
        description="Trains, evaluates and explains simple machine-learning models.",
    )
    browser.get(f"{live_server.base_url}/")
    snap(browser, shots, "home")
    assert "Example University" in browser.find_element(By.TAG_NAME, "h1").text
    for link_id, path in (("home-verify", "/verify"), ("home-badges", "/achievements"),
                          ("home-issuer", "/issuer"), ("home-api", "/openapi.json")):  # fmt: skip
        href = str(browser.find_element(By.ID, link_id).get_attribute("href"))
        assert href == live_server.base_url + path
    browser.find_element(By.ID, "home-badges").click()
    snap(browser, shots, "catalog")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Badges from Example University"
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#catalog h2")]
    assert "Cloud Foundations" in names and "Machine Learning Basics" in names
    for img in browser.find_elements(By.CSS_SELECTOR, "#catalog img"):
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    browser.find_element(By.LINK_TEXT, "Machine Learning Basics").click()
    assert browser.current_url == machine.id  # the achievement id is this page
    snap(browser, shots, "achievement-page")
    text = visible_text(browser)
    for seen in ("How to earn it", "Complete the course project", "ESCO",
                 "write to badges@example.edu", "Awarded by Example University"):  # fmt: skip
        assert seen in text, seen
    badge = browser.find_element(By.CSS_SELECTOR, "img.badge")
    assert badge.get_attribute("alt") == "Badge image for Machine Learning Basics"
    assert browser.execute_script("return arguments[0].naturalWidth", badge) > 0
    browser.find_element(By.LINK_TEXT, "Example University").click()
    snap(browser, shots, "issuer-profile")
    assert browser.current_url == f"{live_server.base_url}/issuer"
    text = visible_text(browser)
    assert "Short courses and microcredentials" in text and live_server.issuer.did in text
    logo = browser.find_element(By.CSS_SELECTOR, "img.logo")
    assert browser.execute_script("return arguments[0].naturalWidth", logo) > 0
    # A badge page links to its catalog entry.
    cred = live_server.award_design(machine, "Alan Turing")
    browser.get(live_server.page_url(cred))
    browser.find_element(By.ID, "achievement-link").click()
    assert browser.current_url == machine.id
