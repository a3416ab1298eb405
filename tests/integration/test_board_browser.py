"""The dispatch board in a real browser (headless Chromium): log in through
the form, a booking made by a real call to the local agent appears without a
reload, its details show the call's transcript, Dispatch moves it, and a
booking whose every text field holds markup and script shows as text."""
import pytest

from agent_harness import Emulators, agent_daemon, caller_wav, context_file
from api_harness import KEY, call, seed_dids
from board_harness import HOSTILE
from browser import available, chromium, log_in
from harness import run_caller, wait_for

pytestmark = pytest.mark.skipif(not available(), reason="chromium and chromedriver are missing")

SAID = "I have a leaking pipe, postcode E5 9ES, 42 Amhurst Road, I'm Ahmed Lekan."
SCRIPT = {
    "stt": [SAID],
    "llm": [{"content": "Booking that now.",
             "tool_calls": [{"name": "create_booking", "arguments": {
                 "customer_name": "Ahmed Lekan", "postcode": "e5 9es",
                 "address": "42 Amhurst Road",
                 "problem_description": "Leaking pipe under the kitchen sink"}}]},
            {"content": "That's booked. Bye.",
             "tool_calls": [{"name": "end_call", "arguments": {}}]}]}
INJECTED = ("#open img, #open script, #open svg, #open iframe, #open b, "
            "#details img, #details script, #details svg, #details iframe, #details b, #pwn")


@pytest.fixture
def stack(daemon_factory, db, tmp_path):
    seed_dids(db)
    e = Emulators(tmp_path, SCRIPT)
    d = agent_daemon(daemon_factory, db, tmp_path, e)
    d.db = db
    yield d
    e.stop()


@pytest.fixture
def browser():
    b = chromium()
    yield b
    b.quit()


def rows(b, table):
    from selenium.webdriver.common.by import By
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in b.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table)]


def row_of(b, table, name):
    """The row of the named caller, or None; None too when the board redrew
    the table while it was being read (a live update), so a wait_for polls
    again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        for tr in b.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table):
            if tr.find_elements(By.TAG_NAME, "td")[1].text == name:
                return tr
    except StaleElementReferenceException:
        pass
    return None


def test_a_call_books_it_the_board_shows_it_live_and_dispatches_it(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By

    b = browser
    log_in(b, stack.api_port, KEY)
    assert "vagent_session" not in b.execute_script("return document.cookie"), "HttpOnly"
    assert KEY not in b.current_url
    b.execute_script("window.__same_page = 42")
    assert rows(b, "open") == []

    uid = "7e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    context_file(stack, uid)
    wav = str(tmp_path / "caller.wav")
    caller_wav(wav, [5.0, SAID, 14.0])
    res = run_caller(stack.port, "-u", uid, "-w", wav, "-d", "2", timeout=180)
    assert res["results"][0]["outcome"] == "server_hangup"

    tr = wait_for(lambda: row_of(b, "open", "Ahmed Lekan"), 30, "the call's booking on the board")
    assert b.execute_script("return window.__same_page") == 42, "no reload"
    cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
    assert cells[1:] == ["Ahmed Lekan", "E5 9ES", "Leaking pipe under the kitchen sink",
                         "George The Plumber", "\u00a348"]

    tr.click()
    wait_for(lambda: b.find_element(By.ID, "details").is_displayed(), 10, "the details")
    wait_for(lambda: SAID in b.find_element(By.ID, "d-transcript").text, 10,
             "the call's transcript in the details")
    assert b.find_element(By.ID, "d-address").text == "42 Amhurst Road"
    assert b.find_element(By.ID, "d-phone").text == "447963155448"
    assert not b.find_element(By.ID, "d-recording").is_displayed(), "no recording kept"

    b.find_element(By.ID, "d-notes-input").send_keys("John, ETA 14:30")
    b.find_element(By.ID, "dispatch").click()
    wait_for(lambda: row_of(b, "dispatched", "Ahmed Lekan") and not row_of(b, "open", "Ahmed Lekan"),
             10, "the booking to move to dispatched")
    assert stack.db.sql("SELECT dispatched, notes FROM ai_agent_bookings WHERE call_uuid=%s",
                        (uid,)) == [(1, "John, ETA 14:30")]
    wait_for(lambda: b.find_element(By.ID, "d-notes").text == "John, ETA 14:30", 10, "the notes")
    assert b.execute_script("return window.__same_page") == 42, "still no reload"

    # Caller speech is untrusted: markup and script in every text field.
    st, j = call(stack, "POST", "/api/voice-agent/create_booking", HOSTILE)
    assert st == 200, j
    tr = wait_for(lambda: row_of(b, "open", HOSTILE["customer_name"]), 30,
                  "the hostile booking, as text")
    cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
    assert cells[3] == HOSTILE["problem_description"] and cells[4] == HOSTILE["company_name"]
    tr.click()
    wait_for(lambda: b.find_element(By.ID, "d-name").text == HOSTILE["customer_name"], 10,
             "the hostile booking's details")
    assert b.find_element(By.ID, "d-address").text == HOSTILE["address"]
    assert b.find_element(By.ID, "d-problem").text == HOSTILE["problem_description"]
    assert b.find_element(By.ID, "d-company").text == HOSTILE["company_name"]
    assert b.find_elements(By.CSS_SELECTOR, INJECTED) == [], "markup became elements"
    assert b.execute_script("return window.__pwned === undefined"), "a script ran"
    assert len(rows(b, "open")) == 1 and len(rows(b, "dispatched")) == 1
