"""Headless Chromium for the board's tests and the demo's screenshot
(Debian's chromium, chromium-driver and python3-selenium; no display)."""
import os
import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def available():
    return os.path.exists(CHROMIUM) and os.path.exists(DRIVER)


def chromium(width=1400, height=900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-extensions", "--window-size=%d,%d" % (width, height)):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(DRIVER), options=o)


def log_in(b, port, key):
    """Through the login form, as a person would; returns at the board."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    b.get("http://127.0.0.1:%d/board" % port)
    WebDriverWait(b, 10).until(EC.url_contains("/board/login"))
    b.find_element(By.ID, "key").send_keys(key)
    b.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(b, 10).until(lambda d: d.current_url.endswith("/board"))
    WebDriverWait(b, 10).until(lambda d: d.find_element(By.ID, "live").text == "live")
