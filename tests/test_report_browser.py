"""The HTML sign-off report as a reviewer sees it: opened in headless Chromium (Debian's
chromium and chromium-driver, driven by selenium), it renders its verdict, the matrix, and
the failing check with its reproducer and a link to its logs."""

from __future__ import annotations

import shutil

import pytest
from test_report import failing_report

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.skip("chromium and chromium-driver are not installed (./run tests installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_the_report_renders_and_its_failing_check_is_visible(browser, tmp_path):
    from selenium.webdriver.common.by import By

    failing_report(tmp_path)
    browser.get((tmp_path / "report.html").as_uri())
    assert browser.title == "Verification report: FAIL"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Verification report: FAIL"
    failure = browser.find_element(By.CSS_SELECTOR, ".failure")
    browser.execute_script("arguments[0].scrollIntoView()", failure)
    assert failure.is_displayed() and failure.size["height"] > 0
    assert "test_b[debian13-tornado]" in failure.text
    assert "expected tornado imported from /opt/salt" in failure.text
    assert "harness ssh debian13-main" in failure.text
    link = failure.find_element(By.LINK_TEXT, "minion.log")
    assert link.get_attribute("href").endswith("/minion.log")
    # The matrix cell of the failing check is red, the passing one green.
    cells = browser.find_elements(By.CSS_SELECTOR, "table.matrix td.failed")
    assert [c.text for c in cells] == ["failed"]
    assert cells[0].value_of_css_property("color") == "rgba(187, 0, 0, 1)"
