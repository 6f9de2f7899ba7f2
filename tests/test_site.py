"""The built documentation site, looked at in headless Chromium.

Build the site first (``python -m sphinx -W -c docs . docs/_build/html``); the tests
skip, saying why, when it is not built or when Chromium or Playwright is missing.
Every page's internal links and images are checked by reading the HTML; three pages
(the front page, the ExemplarVAE reference, a gallery example) are also loaded in
the browser, which must fetch every same-site resource and draw every image.
"""

import functools
import http.server
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

SITE = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = (
    "index.html",
    "docs/generated/skexvae.ExemplarVAE.html",
    "docs/auto_examples/plot_exemplar_attribution.html",
)

needs_site = pytest.mark.skipif(
    not (SITE / "index.html").is_file(),
    reason="docs not built: python -m sphinx -W -c docs . docs/_build/html",
)


class _References(HTMLParser):
    """``href``, ``src`` and element ``id`` values of one page."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) and not (tag == "a" and name == "src"):
                self.links.append(attrs[name])


@functools.cache
def _parsed(path):
    references = _References()
    references.feed(path.read_text(encoding="utf-8"))
    return references


def _broken_references(page):
    """Internal links and images of ``page`` whose file, or anchor, does not exist."""
    broken = []
    for link in _parsed(page).links:
        url = urlparse(link)
        if url.scheme or url.netloc or link.startswith(("mailto:", "javascript:")):
            continue
        target = page if not url.path else (page.parent / unquote(url.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(link)
        elif url.fragment and target.suffix == ".html" and url.fragment not in _parsed(target).ids:
            broken.append(link)
    return broken


@needs_site
def test_every_page_links_only_to_pages_and_images_that_exist():
    pages = sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) > 20
    broken = {str(p.relative_to(SITE)): b for p in pages if (b := _broken_references(p))}
    assert broken == {}


@needs_site
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: chromium)")
def test_pages_load_and_draw_in_chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    failures = []

    def _is_ours(url):
        # Same-site requests only (MathJax comes from a CDN), and not the browser's own
        # favicon request, which no page asks for.
        return url.startswith(origin) and not url.endswith("/favicon.ico")

    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page()
            page.on(
                "response",
                lambda r: (
                    _is_ours(r.url) and r.status >= 400 and failures.append((r.status, r.url))
                ),
            )
            page.on(
                "requestfailed", lambda r: _is_ours(r.url) and failures.append((r.failure, r.url))
            )
            for path in PAGES:
                response = page.goto(urljoin(origin, path), wait_until="networkidle")
                assert response.ok, (path, response.status)
                undrawn = page.eval_on_selector_all(
                    "img",
                    "images => images.filter(i => !i.complete || i.naturalWidth === 0)"
                    ".map(i => i.src)",
                )
                assert undrawn == [], path
                assert page.title(), path
            browser.close()
    finally:
        server.shutdown()
    assert failures == []
