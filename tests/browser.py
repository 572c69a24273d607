"""A real browser for the public pages' tests: Debian's Chromium, headless,
driven through Selenium and Debian's chromedriver (no browser is downloaded).

Where Chromium is missing the tests skip with the reason; under ``CI=true``
they fail instead (``.ci/run`` installs it). Selenium is synchronous: the
tests call it through ``asyncio.to_thread`` so that the page server, in the
test's own event loop, keeps answering.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("ORGANISER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ORGANISER_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = (390, 844)  # CSS pixels: a common phone
DESKTOP = (1280, 900)


def browser_missing() -> str | None:
    """Why no browser test can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"no {path} (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def chromium() -> Iterator[Any]:
    """A headless Chromium for a module's tests (its fixture yields from this)."""
    reason = browser_missing()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"{reason} (under CI=true the browser tests are mandatory)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``ORGANISER_SCREENSHOTS`` if set (the README's
    come from there), else the test's own output directory."""
    out = Path(os.environ.get("ORGANISER_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def full_page(driver: Any, path: Path, width: int) -> None:
    """The whole page at ``width`` CSS pixels, as a phone or a desktop shows it."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": math.ceil(height), "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def console_errors(driver: Any) -> list[str]:
    """What the page's script or the CSP complained of in the browser's console."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
