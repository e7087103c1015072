"""What a person sees in a real browser (headless Chromium through chromedriver).

Chromium missing fails these tests with a message (CI installs it); set
VC_ISSUER_SKIP_BROWSER=1 to skip them on a machine without it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.badges.baking import bake_png, default_badge_png, unbake_png

from .conftest import LiveServer, past

CHROMEDRIVER = os.environ.get("VC_ISSUER_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("VC_ISSUER_CHROMIUM", "/usr/bin/chromium")

if os.environ.get("VC_ISSUER_SKIP_BROWSER") == "1":
    pytest.skip("VC_ISSUER_SKIP_BROWSER=1", allow_module_level=True)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions
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
    folder = tmp_path_factory.mktemp("screenshots")
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


def test_expired_badge_page(live_server: LiveServer, browser: WebDriver, shots: Path) -> None:
    cred = live_server.award(awarded=past(400), months=12)
    browser.get(live_server.page_url(cred))
    snap(browser, shots, "credential-expired")
    assert verdict(browser) == "Expired"
    assert "It expired on" in visible_text(browser)


def test_revoked_badge_page(live_server: LiveServer, browser: WebDriver, shots: Path) -> None:
    cred = live_server.award()
    live_server.run(live_server.issuer.revoke(cred["id"], reason="issued in error"))
    browser.get(live_server.page_url(cred))
    snap(browser, shots, "credential-revoked")
    assert verdict(browser) == "Revoked"
    assert "The issuer has revoked this credential." in visible_text(browser)


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
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(button))


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
