"""The Content-Security-Policy of the formgrader's submission views (installed by :mod:`autograder.formgrader_views`).

Defence in depth behind :mod:`autograder.safe_html` (which removes a submission's active content from the page):
even if some active content got through, the browser runs no inline script and no event handler of the page
except the formgrader's own, and sends no request outside the server's own origin for images, frames or forms.
The formgrader's own inline scripts all come before the notebook in the page; they are allowed by their hashes,
and its two ``onclick`` handlers by theirs. No script comes from elsewhere, and none may evaluate strings: the maths
is MathML (safe_html), so the template's MathJax, loaded from a CDN, is not needed and not allowed.
"""

import base64
import hashlib
import re
from tornado.web import OutputTransform

SUBMISSION_VIEW = re.compile(r"(.*/)?formgrader/submissions/[^/]+/?$")
NOTEBOOK_START = 'id="notebook-container"'  # where the rendered notebook begins in nbgrader's formgrade template
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*text/x-mathjax-config)[^>]*>(.*?)</script>", re.S)
HANDLERS = ["toggle_name(true);", "toggle_name(false);"]  # the onclick handlers of nbgrader's formgrade template


def _hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy(page, formgrader="/formgrader/"):
    """The Content-Security-Policy of one submission view: only the template's inline scripts (those before the
    notebook) and handlers may run; scripts, images and requests only from the formgrader's own URLs (``formgrader``:
    its absolute URL, origin included) or inline images; no frames, objects, forms or plugins."""
    head = page.split(NOTEBOOK_START, 1)[0] if NOTEBOOK_START in page else ""
    allowed = " ".join(_hash(script) for script in INLINE_SCRIPT.findall(head))
    handlers = " ".join(_hash(handler) for handler in HANDLERS)
    own, api = formgrader, f"{formgrader}api/"
    return (f"default-src 'none'; script-src {own} 'unsafe-hashes' {allowed} {handlers}; "
            f"style-src {own} 'unsafe-inline'; font-src {own} data:; img-src {own} data:; "
            f"connect-src {api}; frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


class SubmissionViewPolicy(OutputTransform):
    """Adds :func:`policy` to the response of a formgrader submission view."""

    def __init__(self, request):
        super().__init__(request)
        match = SUBMISSION_VIEW.match(request.path)
        self.formgrader = match and f"{request.protocol}://{request.host}{match.group(1) or '/'}formgrader/"

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self.formgrader and headers.get("Content-Type", "").startswith("text/html"):
            headers["Content-Security-Policy"] = policy(chunk.decode("utf-8", "replace"), self.formgrader)
        return status_code, headers, chunk

