#!/usr/bin/env python3
"""The demo's dispatch board: a second booking (a cloud agent's, through
create_booking), then a screenshot of the board as the team sees it, taken
by headless Chromium after logging in through the form.

usage: demo_board.py API_PORT KEY_FILE OUT.png
"""
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
from browser import available, chromium, log_in  # noqa: E402

SECOND = {"customer_name": "Priya Shah", "customer_phone": "447700900456",
          "postcode": "N1 9GU", "address": "7 Caledonian Road",
          "problem_description": "No hot water since this morning, boiler shows F28",
          "trade_type": "plumbing", "callout_fee": 48, "did_number": "442039962952",
          "company_name": "George The Plumber", "is_repeat": False, "outcome": "booked",
          "source": "cloud"}


def book(port, key):
    req = urllib.request.Request("http://127.0.0.1:%d/api/voice-agent/create_booking" % port,
                                 data=json.dumps(SECOND).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-API-Key": key})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def main():
    port, key, out = int(sys.argv[1]), open(sys.argv[2]).read().split("\n")[0], sys.argv[3]
    if not available():
        print("demo: chromium or chromedriver missing: no screenshot (sh tests/deps.sh)")
        return 0
    from selenium.webdriver.common.by import By

    b = chromium(1400, 860)
    try:
        log_in(b, port, key)
        r = book(port, key)
        print("demo: a second booking, %s, by the cloud agent's path (create_booking)"
              % r.get("booking_ref"))
        deadline = time.monotonic() + 20
        while len(b.find_elements(By.CSS_SELECTOR, "#open tbody tr")) < 2:
            if time.monotonic() > deadline:
                print("demo: the board did not show two bookings", file=sys.stderr)
                return 1
            time.sleep(0.1)
        # The call's booking, with its transcript: the older of the two.
        b.find_elements(By.CSS_SELECTOR, "#open tbody tr")[1].click()
        deadline = time.monotonic() + 10
        while not b.find_elements(By.CSS_SELECTOR, "#d-transcript li"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(4.5)  # the new row's highlight fades
        b.save_screenshot(out)
        print("demo: the dispatch board with two bookings: %s" % out)
    finally:
        b.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
