"""Locust load test: a care team working in Tandem (issue 10, performance).

Run through ``benchmarks/load_test.py``, which prepares the database (persona logins linked
to busy practitioners, an API token), writes the inputs below to a JSON file and starts the
production server; this file only describes what each simulated person does.

Each simulated user signs in as one of the persona logins (round robin) and, with 1-5 s
between actions (``LOAD_THINK=0``: none, for the saturation run), does one of:

* ``worklist (filtered)`` — a worklist page filtered by state and site (the page's size);
* ``worklist item`` — one item of that list (what a care manager opens before calling);
* ``log contact attempt`` — the item's "log attempt" form (POST, CSRF, a fresh nonce);
* ``chart`` — the integrated chart of a patient on the persona's lists or caseload;
* ``search`` — the patient search as typing sends it (htmx partial), by family name;
* ``api: worklist items (50)`` — ``GET /api/worklists/{key}/items?page_size=50`` with a
  personal access token.

Inputs (``LOAD_INPUTS``, JSON): ``{"personas": [{"username", "password", "worklists": [{"key",
"site"}], "items": [id…], "patients": [id…], "names": [family name…]}…], "token": "tnd_…",
"api_worklists": [key…], "time_zone": "America/New_York"}`` (the server's ``TANDEM_TIME_ZONE``:
the contact attempt's time is written in it). An action whose inputs are empty (no item on the lists yet, say)
is skipped and does not count.

Locust is a benchmark extra (``pip install -e '.[bench]'``): Tandem never imports this file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from locust import HttpUser, between, constant, task

INPUTS: dict[str, Any] = json.loads(open(os.environ["LOAD_INPUTS"]).read())  # noqa: SIM115
PERSONAS = itertools.cycle(INPUTS["personas"])
THINK = os.environ.get("LOAD_THINK", "1") != "0"
ZONE = ZoneInfo(INPUTS["time_zone"]) if INPUTS.get("time_zone") else None
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class CareTeamMember(HttpUser):
    wait_time = between(1, 5) if THINK else constant(0)

    def on_start(self) -> None:
        self.persona = next(PERSONAS)
        page = self.client.get("/login/", name="sign in (setup)")
        token = CSRF.search(page.text)
        with self.client.post(
            "/login/",
            data={
                "username": self.persona["username"],
                "password": self.persona["password"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": f"{self.host}/login/"},
            name="sign in (setup)",
            catch_response=True,
        ) as response:
            if "/login/" in response.url:
                response.failure(f"{self.persona['username']} could not sign in")

    def _pick(self, key: str) -> Any:
        values = self.persona.get(key) or []
        return random.choice(values) if values else None  # noqa: S311 (not security)

    @task(3)
    def worklist(self) -> None:
        chosen = self._pick("worklists")
        if chosen is None:
            return
        query = "state=open" + (f"&site={chosen['site']}" if chosen.get("site") else "")
        self.client.get(f"/worklists/{chosen['key']}/?{query}", name="worklist (filtered)")

    @task(1)
    def item(self) -> None:
        pk = self._pick("items")
        if pk is not None:
            self.client.get(f"/worklists/items/{pk}/", name="worklist item")

    @task(1)
    def contact(self) -> None:
        pk = self._pick("items")
        if pk is None:
            return
        page = self.client.get(f"/worklists/items/{pk}/", name="worklist item")
        token = CSRF.search(page.text)
        if token is None:
            return
        # The form's time is read in the server's time zone (not this machine's): five
        # minutes ago there, or the attempt would be in the future and refused.
        now = dt.datetime.now(ZONE) if ZONE is not None else dt.datetime.now()
        when = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=5)
        with self.client.post(
            f"/worklists/items/{pk}/attempts/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "channel": random.choice(["phone", "text", "letter"]),  # noqa: S311
                "outcome": random.choice(["no-answer", "left-message"]),  # noqa: S311
                "attempted_at": when.strftime("%Y-%m-%dT%H:%M"),
                "note": "Load test",
                "nonce": uuid.uuid4().hex,
            },
            headers={"Referer": f"{self.host}/worklists/items/{pk}/"},
            allow_redirects=False,
            name="log contact attempt",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"expected a redirect, got {response.status_code}")

    @task(3)
    def chart(self) -> None:
        pk = self._pick("patients")
        if pk is not None:
            self.client.get(f"/patients/{pk}/", name="chart")

    @task(2)
    def search(self) -> None:
        name = self._pick("names")
        if name is not None:
            self.client.get(
                f"/patients/?name={name}", headers={"HX-Request": "true"}, name="search"
            )

    @task(2)
    def api(self) -> None:
        keys = INPUTS.get("api_worklists") or []
        if not keys or not INPUTS.get("token"):
            return
        key = random.choice(keys)  # noqa: S311
        self.client.get(
            f"/api/worklists/{key}/items?page_size=50",
            headers={"Authorization": f"Bearer {INPUTS['token']}"},
            name="api: worklist items (50)",
        )
