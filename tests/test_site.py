"""`registry site`: the static catalogue, read as files and in a real headless Chromium.

One registry is built per module: three models (churn with three versions and stage moves;
fraud with a deregistered version, then deprecated; nlp/intent-router, whose name holds a
folder and whose card, front matter and tag message are hostile), pushed to a bare origin.
The tests read the generated pages, run the fetch command a page shows, load the site in
Chromium to check what a person sees (the model list, the filter, the charts) and that the
hostile card runs no script even with the page's Content Security Policy switched off, and run
the generated CI's Pages jobs.

Chromium is Debian's package (`make test` installs it when missing), driven over the DevTools
protocol on a pipe: no driver, no port, only file:// URLs.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from support import TEMPLATE, bake_template, baked_world, git, registry

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.project_slug}}" / "src"))
from model_registry import site as site_module  # noqa: E402  (the helper as the template ships it)

pytestmark = pytest.mark.xdist_group("site")  # one worker builds the registry, once

PWNED = "document.title='PWNED'"
HOSTILE_SCRIPT = f"<script>{PWNED}</script>"
HOSTILE_IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
HOSTILE_CARD = f"""---
license: apache-2.0
owner: nlp-team@example.com
tags: [{json.dumps(HOSTILE_IMG)}, routing]
eu_ai_act:
  intended_purpose: {json.dumps(HOSTILE_SCRIPT + " Route support tickets")}
---
# nlp/intent-router {HOSTILE_SCRIPT}

Routes tickets to a queue. {HOSTILE_IMG}

[a trap](javascript:{PWNED}) and [the runbook](https://runbooks.example.com/intent) and
<a href="javascript:{PWNED}">raw</a> <svg onload="{PWNED}"></svg>

| field | value |
|---|---|
| sink | <iframe src="javascript:{PWNED}"></iframe> |
"""


# ==================================================================== the registry and its site


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    baked = baked_world(tmp_path_factory.mktemp("site"))
    root, repo, origin = baked

    files = {}

    def register(name, version, metrics, size, *extra):
        model = root / f"{name.replace('/', '-')}-{version}.pkl"
        model.write_bytes(os.urandom(size))
        files[name, version] = model
        args = ["register", name, str(model), "--version", version, *extra]
        if metrics:
            (root / "metrics.json").write_text(json.dumps(metrics))
            args += ["--metrics", str(root / "metrics.json")]
        registry(repo, *args)

    register("churn", "v1.0.0", {"auc": 0.81, "log_loss": 0.52}, 3000,
             "-m", "Baseline gradient boosting")
    register("churn", "v1.1.0", {"auc": 0.84, "log_loss": 0.47}, 6000, "--push")  # fetched
    register("churn", "v1.2.0", {"auc": 0.88, "log_loss": 0.41}, 9000)
    register("fraud", "v0.1.0", {"f1": 0.61}, 2000)
    register("fraud", "v0.2.0", {"f1": 0.66}, 2500)
    card = repo / "models/nlp/intent-router/card.md"
    card.parent.mkdir(parents=True)
    card.write_text(HOSTILE_CARD)
    register("nlp/intent-router", "v0.1.0", None, 1500, "-m", HOSTILE_SCRIPT)
    for step in [("promote", "churn", "v1.1.0", "staging"),
                 ("promote", "churn", "v1.1.0", "prod"),
                 ("promote", "churn", "v1.2.0", "staging"),
                 ("promote", "nlp/intent-router", "v0.1.0", "dev"),
                 ("deregister", "fraud", "v0.1.0"), ("deprecate", "fraud")]:
        registry(repo, *step)
    baked.push()
    out = root / "public"
    result = json.loads(registry(repo, "site", "-o", str(out), "--json").stdout)
    return {"root": root, "repo": repo, "origin": origin, "out": out, "files": files,
            "result": result}


def page(world, rel: str) -> str:
    return (world["out"] / rel).read_text(encoding="utf-8")


def text_of(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded, spaces folded."""
    parser = _Text()
    parser.feed(fragment)
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "title")
        self.parts.append(" " if tag in ("td", "th", "li", "p", "br", "tr", "div") else "")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "title")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def rows(fragment: str, table_id: str) -> list[str]:
    table = fragment.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [t for t in (text_of(r) for r in body.split("</tr>")) if t]


# ==================================================================== what the files say


def test_site_has_an_index_a_page_per_model_and_per_version(world):
    assert world["result"]["models"] == ["churn", "fraud", "nlp/intent-router"]
    assert world["result"]["pages"] == 1 + 3 + 6
    for rel in ["index.html", "models/churn/index.html", "models/churn/v1.0.0.html",
                "models/churn/v1.2.0.html", "models/fraud/v0.1.0.html",
                "models/nlp/intent-router/v0.1.0.html"]:
        assert (world["out"] / rel).is_file(), rel


def test_index_lists_each_model_with_latest_stages_last_change_and_status(world):
    listed = rows(page(world, "index.html"), "models")
    assert listed[0].startswith("churn v1.2.0 staging v1.2.0 prod v1.1.0 3 ")
    assert listed[0].endswith("promoted v1.2.0 to staging active")
    assert listed[1].startswith("fraud - - 1 ") and listed[1].endswith(
        "deprecated the model deprecated")
    assert listed[2].startswith("nlp/intent-router v0.1.0 dev v0.1.0 1 ")


def test_model_page_has_versions_timeline_charts_and_card(world):
    html_ = page(world, "models/churn/index.html")
    versions = rows(html_, "versions")
    assert [v.split()[0] for v in versions] == ["v1.2.0", "v1.1.0", "v1.0.0"]
    assert re.fullmatch(r"v1\.1\.0 \d{4}-\d\d-\d\d \d\d:\d\d UTC Registry Tester prod "
                        r"5\.9 KiB 0\.84 0\.47", versions[1]), versions[1]
    timeline = text_of(html_.split('id="timeline"', 1)[1].split("</ol>", 1)[0])
    for event in ["promoted v1.2.0 to staging", "promoted v1.1.0 to prod",
                  "registered v1.0.0", "Baseline gradient boosting", "tag churn#prod#2"]:
        assert event in timeline
    charts = re.findall(r'<svg class="chart"[^>]*data-metric="([^"]+)"', html_)
    assert charts == ["auc", "log_loss"]
    auc = html_.split('data-metric="auc"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r"<title>([^<]+)</title></circle>", auc) == [
        "v1.0.0: 0.81", "v1.1.0: 0.84", "v1.2.0: 0.88"]
    card = html_.split('id="card"', 1)[1]
    assert "<h3>churn</h3>" in card and "<h4>Intended use</h4>" in card


def test_deregistered_version_is_drawn_hollow_and_does_not_resolve(world):
    html_ = page(world, "models/fraud/index.html")
    assert '<circle class="point withdrawn"' in html_
    assert "v0.1.0: 0.61 (deregistered)" in html_
    assert "deregistered" in rows(html_, "versions")[1]
    version = text_of(page(world, "models/fraud/v0.1.0.html"))
    assert "This version does not resolve: the model is deprecated." in version


def test_version_page_has_card_lineage_doc_and_fetch_commands(world):
    html_ = page(world, "models/churn/v1.1.0.html")
    seen = text_of(html_)
    assert "previous version v1.0.0 followed by v1.2.0" in seen
    assert 'href="v1.0.0.html"' in html_ and 'href="v1.2.0.html"' in html_
    assert "staging assigned churn#staging#1" in seen and "prod assigned churn#prod#2" in seen
    tag_commit = git(world["repo"], "rev-parse", "churn@v1.1.0^{}")
    assert f"tag churn@v1.1.0 on commit {tag_commit}" in seen  # the `registry doc` text
    for point in range(1, 10):
        assert f"(Annex IV point {point})" in seen
    fetch = text_of(html_.split('id="fetch"', 1)[1].split("</pre>", 1)[0])
    assert f"registry get churn@v1.1.0 --repo {world['origin']} -o churn-v1.1.0.pkl" in fetch
    assert f"dvc artifacts get {world['origin']} churn --rev v1.1.0" in fetch


def test_the_fetch_command_a_page_shows_returns_the_bytes(world, tmp_path):
    fetch = text_of(page(world, "models/churn/v1.1.0.html").split('id="fetch"', 1)[1]
                    .split("</pre>", 1)[0])
    line = next(x for x in fetch.split("registry get ") if "--repo" in x).split(" dvc ")[0]
    args = line.split()
    registry(world["repo"], "get", *args, "--force", cwd=tmp_path)
    assert (tmp_path / args[-1]).read_bytes() == world["files"]["churn", "v1.1.0"].read_bytes()


def test_hostile_card_is_text_in_every_page_file(world):
    for rel in ["index.html", "models/nlp/intent-router/index.html",
                "models/nlp/intent-router/v0.1.0.html"]:
        html_ = page(world, rel)
        for markup in ("<script>document", "<img", "<iframe", "<svg onload", 'href="javascript:'):
            assert markup not in html_, (rel, markup)
    card = page(world, "models/nlp/intent-router/index.html")
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in card
    assert '<a href="https://runbooks.example.com/intent" rel="nofollow noopener noreferrer">' \
           "the runbook</a>" in card


def test_rebuild_replaces_its_own_folder_and_refuses_anyone_elses(world, tmp_path):
    out = tmp_path / "site"
    registry(world["repo"], "site", "-o", str(out))
    (out / "stale.html").write_text("old")
    registry(world["repo"], "site", "-o", str(out))
    assert not (out / "stale.html").exists() and (out / "index.html").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    proc = registry(world["repo"], "site", "-o", str(other), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
    assert "not empty and was not written by `registry site`" in proc.stderr
    assert (other / "mine.txt").read_text() == "keep me"


def test_site_of_a_new_registry_then_an_untagged_card_and_a_damaged_one(tmp_path):
    repo = bake_template(tmp_path)
    out = tmp_path / "site"
    registry(repo, "site", "-o", str(out))
    assert "No model is registered yet" in text_of((out / "index.html").read_text())
    model = tmp_path / "model.pkl"
    model.write_bytes(os.urandom(1000))
    registry(repo, "register", "pending", str(model), "--no-tag")  # the pull-request flow
    card = repo / "models/broken/card.md"
    card.parent.mkdir()
    card.write_text("---\nlicense: [unclosed\n---\n# broken\n")
    git(repo, "add", "models/broken")
    git(repo, "commit", "-qm", "a card that is not YAML")
    git(repo, "tag", "-a", "broken@v1.0.0", "-m", "tagged by hand")
    git(repo, "tag", "ignored@v1.0.0")  # lightweight: not an event, as gto ignores it
    result = json.loads(registry(repo, "site", "-o", str(out), "--json").stdout)
    assert result["models"] == ["broken", "pending"]
    assert rows((out / "index.html").read_text(), "models")[1] == \
        "pending - - 0 not tagged yet no version yet"
    broken = text_of((out / "models/broken/v1.0.0.html").read_text())
    assert "The card could not be read: models/broken/card.md at broken@v1.0.0 at line 2" in broken


def test_published_remote_url_carries_no_credentials():
    assert site_module.public_url("https://oauth2:glpat-secret@gitlab.example/ml/reg.git") == \
        "https://gitlab.example/ml/reg.git"
    assert site_module.public_url("ssh://git:pw@host/reg.git") == "ssh://git@host/reg.git"
    assert site_module.public_url("git@github.com:acme/reg.git") == "git@github.com:acme/reg.git"


# ==================================================================== the Markdown renderer


@pytest.mark.parametrize("source, expected", [
    ("# Title", "<h2>Title</h2>"),
    ("Title\n===", "<h2>Title</h2>"),
    ("a *b* **c** `d<e>` ~~f~~", "<p>a <em>b</em> <strong>c</strong> <code>d&lt;e&gt;</code> "
                                 "<del>f</del></p>"),
    ("snake_case_name", "<p>snake_case_name</p>"),
    ("- a\n- b\n  - c", "<ul>\n<li>a</li>\n<li>b\n<ul>\n<li>c</li>\n</ul></li>\n</ul>"),
    ("3. x\n4. y", '<ol start="3">\n<li>x</li>\n<li>y</li>\n</ol>'),
    ("```python\nx = '<b>'\n```", '<pre><code class="language-python">x = &#x27;&lt;b&gt;'
                                  "&#x27;</code></pre>"),
    ("> quoted", "<blockquote><p>quoted</p></blockquote>"),
    ("| a | b |\n|---|--:|\n| 1 | 2 |", '<div class="scroll"><table><thead><tr><th>a</th>'
     '<th class="al-right">b</th></tr></thead><tbody><tr><td>1</td><td class="al-right">2'
     "</td></tr></tbody></table></div>"),
    ("[x](https://e.example/a_b_c)", '<p><a href="https://e.example/a_b_c" '
                                     'rel="nofollow noopener noreferrer">x</a></p>'),
    ("see https://e.example/x.", '<p>see <a href="https://e.example/x" '
                                 'rel="nofollow noopener noreferrer">https://e.example/x</a>.</p>'),
    ("[x](javascript:alert(1))", "<p>x</p>"),
    ("[x](data:text/html,hi) [y](/relative)", "<p>x y</p>"),
    ("![chart](https://e.example/c.png)",
     '<p><a href="https://e.example/c.png" rel="nofollow noopener noreferrer">image: chart</a>'
     "</p>"),
    ("<b onmouseover=x>hi</b>", "<p>&lt;b onmouseover=x&gt;hi&lt;/b&gt;</p>"),
    ("\\*not em\\*", "<p>*not em*</p>"),
])
def test_markdown_renders_the_usual_card_syntax(source, expected):
    assert site_module.markdown(source) == expected


ALLOWED_TAGS = {"h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "pre", "code", "em",
                "strong", "del", "a", "blockquote", "hr", "table", "thead", "tbody", "tr", "th",
                "td", "div"}
ALLOWED_ATTRS = {"href", "rel", "class", "start"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(list("<>/\"'=&;:()[]!*_`~#-|> \n\tabcjsvx1.")),
                          st.sampled_from(["<script>", "javascript:", "onerror=", "http://",
                                           "https://", "<img src=x ", "```", "\\", "\x00",
                                           "\x01", "- ", "1. ", "    "])),
                max_size=60).map("".join))
def test_markdown_never_lets_markup_through(source):
    tags = _Tags()
    tags.feed(site_module.markdown(source))
    for tag, attrs in tags.found:
        assert tag in ALLOWED_TAGS, (source, tag)
        for name, value in attrs:
            assert name in ALLOWED_ATTRS, (source, name)
            if name == "href":
                assert value.startswith(("http://", "https://")), (source, value)


def test_markdown_of_a_hostile_megabyte_is_quick():
    """Inputs that make a backtracking parser take quadratic time or worse. The budget is this
    process's CPU time, which other processes' load does not inflate as it does wall time."""
    started = time.process_time()
    for chunk in ["**x " * 60000, "`a " * 60000, "[" * 60000 + "](", "> " * 5000 + "x",
                  "- " * 5000 + "x", "_a " * 60000]:
        site_module.markdown(chunk)
    assert time.process_time() - started < 10


# ==================================================================== in a browser


class Chromium:
    """Headless Chromium, driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
             "--remote-debugging-pipe"]

    def __init__(self, binary: str, profile: Path, timeout: float = 30):
        self.timeout = timeout
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def wire():  # in the child: its ends of the pipes become fds 3 (read) and 4 (write)
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(profile.parent / "chromium.log", "wb")
        self.proc = subprocess.Popen([binary, *self.FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, close_fds=False,
                                     preexec_fn=wire)
        os.close(to_r)
        os.close(from_w)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self.events: "queue.Queue[dict]" = queue.Queue()
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.send("Browser.getVersion")
        except AssertionError:
            self.close()
            log = (profile.parent / "chromium.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"Chromium did not start:\n{log}") from None

    def _read(self):
        buffer = b""
        while True:
            chunk = os.read(self._from_r, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._replies[message["id"]] = message
                        self._lock.notify_all()
                else:
                    self.events.put(message)
        with self._lock:
            self._replies[-1] = {}
            self._lock.notify_all()

    def send(self, method: str, session: str | None = None, **params) -> dict:
        with self._lock:
            self._next += 1
            ident = self._next
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_w, data):]
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or -1 in self._replies:
                    raise AssertionError(f"Chromium did not answer {method}")
                self._lock.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str, bypass_csp: bool = False) -> "Tab":
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tab = Tab(self, session, target)
        for method in ("Page.enable", "Runtime.enable"):
            tab.send(method)
        tab.send("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                 deviceScaleFactor=1, mobile=False)
        tab.send("Page.setBypassCSP", enabled=bypass_csp)
        tab.send("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__violations = [];document.addEventListener('securitypolicyviolation',"
            "e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"))
        tab.navigate(url)
        return tab

    def close(self):
        try:
            self.send("Browser.close")
        except (AssertionError, OSError):  # it is gone already
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        self.log.close()


class Tab:
    def __init__(self, browser: Chromium, session: str, target: str):
        self.browser, self.session, self.target = browser, session, target
        self._errors: list[str] = []

    def send(self, method: str, **params) -> dict:
        return self.browser.send(method, self.session, **params)

    def _events_until(self, method: str, deadline: float):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {method} within {self.browser.timeout} s")
            try:
                event = self.browser.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("sessionId") != self.session:
                continue
            self._note(event)
            if event["method"] == method:
                return event

    def _note(self, event: dict):
        if event["method"] == "Runtime.exceptionThrown":
            self._errors.append(json.dumps(event["params"]["exceptionDetails"])[:500])

    @property
    def errors(self) -> list[str]:
        """Uncaught script errors so far (events already delivered are read first)."""
        while True:
            try:
                event = self.browser.events.get_nowait()
            except queue.Empty:
                return self._errors
            if event.get("sessionId") == self.session:
                self._note(event)

    def navigate(self, url: str):
        result = self.send("Page.navigate", url=url)
        assert not result.get("errorText"), result
        self.wait_for_load()

    def wait_for_load(self):
        self._events_until("Page.loadEventFired", time.monotonic() + self.browser.timeout)

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str):
        """Bounded polling for a condition the page reaches after an event it handles."""
        deadline = time.monotonic() + self.browser.timeout
        while not self.js(expression):
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.05)

    def type(self, text: str):
        for char in text:
            self.send("Input.dispatchKeyEvent", type="keyDown", text=char, key=char)
            self.send("Input.dispatchKeyEvent", type="keyUp", key=char)

    def screenshot(self, path: Path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        self.browser.send("Target.closeTarget", targetId=self.target)


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: `make test` installs Debian's chromium")
        pytest.skip("needs Chromium: `make test` installs it (apt-get install chromium)")
    chrome = Chromium(binary, tmp_path_factory.mktemp("chromium") / "profile")
    yield chrome
    chrome.close()


def url(world, rel: str, query: str = "") -> str:
    return (world["out"] / rel).as_uri() + query


VISIBLE_ROWS = ("[...document.querySelectorAll('#models tbody tr')]"
                ".filter(r => r.offsetParent !== null).map(r => r.cells[0].innerText)")


def test_browser_shows_the_model_list_and_the_filter_narrows_it(world, browser):
    tab = browser.open(url(world, "index.html"))
    assert tab.js(VISIBLE_ROWS) == ["churn", "fraud", "nlp/intent-router"]
    assert tab.js("document.getElementById('shown').innerText") == "3 of 3 models"
    tab.js("document.getElementById('filter').focus()")
    tab.type("fra")
    tab.wait_for("document.getElementById('shown').innerText === '1 of 3 models'")
    assert tab.js(VISIBLE_ROWS) == ["fraud"]
    tab.js("document.getElementById('filter').select()")
    tab.type("staging")  # a stage name finds the models with a version in it
    tab.wait_for("document.getElementById('shown').innerText === '1 of 3 models'")
    assert tab.js(VISIBLE_ROWS) == ["churn"]
    tab.js("document.getElementById('filter').select()")
    tab.type("no such model")
    tab.wait_for("document.getElementById('shown').innerText === '0 of 3 models'")
    assert tab.js("document.getElementById('no-match').offsetParent !== null")
    assert tab.js("window.__violations") == [] and tab.errors == []
    tab.navigate(url(world, "index.html", "?q=intent"))  # a filter can be shared as a link
    assert tab.js(VISIBLE_ROWS) == ["nlp/intent-router"]
    tab.js("[...document.querySelectorAll('#models tbody tr')].find(r => !r.hidden)"
           ".querySelector('a').click()")
    tab.wait_for_load()
    assert tab.js("document.querySelector('h1').innerText") == "nlp/intent-router"
    tab.js("document.querySelector('a.brand').click()")  # and back, from two folders down
    tab.wait_for_load()
    assert tab.js("document.querySelector('h1').innerText") == "Model Registry"
    tab.close()


def test_browser_draws_a_chart_per_metric(world, browser):
    tab = browser.open(url(world, "models/churn/index.html"))
    charts = tab.js("""[...document.querySelectorAll('svg.chart')].map(svg => {
        const box = svg.getBoundingClientRect();
        return {metric: svg.dataset.metric, width: box.width, height: box.height,
                points: svg.querySelectorAll('circle').length,
                line: svg.querySelector('polyline').points.numberOfItems};
    })""")
    assert [c["metric"] for c in charts] == ["auc", "log_loss"]
    for c in charts:
        assert c["width"] > 300 and c["height"] > 150 and c["points"] == c["line"] == 3
    heights = tab.js("[...document.querySelectorAll('svg.chart[data-metric=auc] circle')]"
                     ".map(c => c.getBoundingClientRect().top)")
    assert heights == sorted(heights, reverse=True)  # auc rises: each point is drawn higher
    assert tab.js("document.querySelector('#versions tbody tr').cells[0].innerText") == "v1.2.0"
    assert tab.js("window.__violations") == [] and tab.errors == []
    tab.close()


@pytest.mark.parametrize("rel", ["index.html", "models/nlp/intent-router/index.html",
                                 "models/nlp/intent-router/v0.1.0.html"])
def test_browser_runs_no_script_from_a_hostile_card_even_without_csp(world, browser, rel):
    tab = browser.open(url(world, rel), bypass_csp=True)
    title = tab.js("document.title")
    assert "PWNED" not in title
    assert tab.js("document.documentElement.hasAttribute('data-pwned')") is False
    assert tab.js("document.images.length + document.querySelectorAll("
                  "'iframe, svg[onload], [onerror], a[href^=javascript]').length") == 0
    assert tab.js("document.scripts.length") == (1 if rel == "index.html" else 0)
    if rel != "index.html":
        assert HOSTILE_SCRIPT in tab.js("document.body.innerText")  # shown, as text
        assert HOSTILE_IMG in tab.js("document.body.innerText")
    assert tab.errors == []
    tab.close()


def test_screenshots_of_the_index_and_a_model_page(world, browser, tmp_path):
    """Set REGISTRY_UPDATE_SCREENSHOTS=1 to refresh the README's pictures in docs/."""
    docs = TEMPLATE / "docs" if os.environ.get("REGISTRY_UPDATE_SCREENSHOTS") else tmp_path
    for rel, name in [("index.html", "site-index.png"), ("models/churn/index.html",
                                                          "site-model.png")]:
        tab = browser.open(url(world, rel))
        tab.screenshot(docs / name)
        tab.close()
        data = (docs / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (1280, 900)
        assert len(data) > 20000  # a page with content, not a blank frame


# ==================================================================== the generated CI publishes it


def run_ci(world, script: str, **env) -> subprocess.CompletedProcess:
    """A CI job's shell, in a fresh clone of origin, with `registry` run from the clone."""
    root = world["root"]
    clone = root / f"runner-{len(list(root.glob('runner-*')))}"
    git(root, "clone", "--quiet", str(world["origin"]), str(clone))
    shims = root / "shims"
    shims.mkdir(exist_ok=True)
    shim = shims / "registry"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="$PWD/src" exec {sys.executable} -m model_registry '
                    '"$@"\n')
    shim.chmod(0o755)
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=clone,
                          capture_output=True, text=True,
                          env={**os.environ, **env,
                               "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"})
    proc.clone = clone
    return proc


def test_github_pages_workflow_builds_the_site_and_deploys_it(world):
    workflow = yaml.safe_load((world["repo"] / ".github/workflows/pages.yml").read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert workflow["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith(
        "actions/upload-pages-artifact@"))
    script = "\n".join(s["run"] for s in build["steps"] if "run" in s and
                       "pip install" not in s["run"])
    proc = run_ci(world, script)
    assert proc.returncode == 0, proc.stderr
    index = proc.clone / upload["with"]["path"] / "index.html"
    assert "intent-router" in text_of(index.read_text())


def test_gitlab_pages_job_builds_the_site(world, tmp_path):
    repo = bake_template(tmp_path, ci="gitlab")
    text = (repo / ".gitlab-ci.yml").read_text()
    loader = type("GitLabLoader", (yaml.SafeLoader,), {})
    loader.add_constructor("!reference", lambda loader_, node: None)
    job = yaml.load(text, Loader=loader)["pages"]
    assert job["artifacts"]["paths"] == ["public"]
    proc = run_ci(world, "\n".join(job["script"]), CI_DEFAULT_BRANCH="main")
    assert proc.returncode == 0, proc.stderr
    assert "churn" in text_of((proc.clone / "public/index.html").read_text())
