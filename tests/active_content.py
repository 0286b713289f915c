"""Active content a submission may carry, and a check that a page built from it has none (shared by the sanitiser's
unit tests, the hostile grading suite and the browser tests).

Every vector's script does the same two things when it runs: it sets ``window.cnnkitMarker`` and asks the Jupyter
server for the gradebook (``/api/contents/gradebook.db``) and for a URL holding the marker, so that a browser test
sees it either way.
"""

from html.parser import HTMLParser

import nbformat

MARKER = "cnnkit-xss-marker"
SCRIPT = (f"window.cnnkitMarker='{MARKER}';fetch('/api/contents/gradebook.db');"
          f"fetch('/{MARKER}')")
ACTIVE_HTML = (f'<img src="x" onerror="{SCRIPT}"><svg onload="{SCRIPT}"></svg><script>{SCRIPT}</script>'
               f'<a href="javascript:{SCRIPT}">click</a><iframe src="/api/contents/gradebook.db"></iframe>'
               f'<form action="/api/kernels" method="post"><button>go</button></form>'
               f'<img src="/api/contents/gradebook.db?{MARKER}"><style>body{{background:url(/{MARKER})}}</style>'
               f'<object data="/{MARKER}"></object><embed src="/{MARKER}"><base href="/{MARKER}/">'
               f'<meta http-equiv="refresh" content="0;url=/{MARKER}">')
SVG = (f'<svg xmlns="http://www.w3.org/2000/svg" onload="{SCRIPT}"><script>{SCRIPT}</script>'
       f'<circle r="5"/></svg>')
MARKDOWN = (f"A table | and maths $x^2$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n{ACTIVE_HTML}\n\n"
            f"[a javascript link](javascript:{SCRIPT}) and ![an image](/api/contents/gradebook.db?{MARKER})\n")


def _output(mime, value):
    return nbformat.v4.new_output("display_data", data={mime: value, "text/plain": "<the output>"})


# vector: (what it is, how to put it into a notebook: a function of the JSON notebook and its class cell)
def _append_cell(notebook, cell):
    cell = dict(cell, id=f"added-{len(notebook['cells'])}")
    notebook["cells"].append(cell)


VECTORS = {
    "kernel_output_html": ("display(HTML(...)) run by the class cell when it is graded",
                           lambda nb, cls: cls.update(source="from IPython.display import HTML, display\n"
                                                      f"display(HTML({ACTIVE_HTML!r}))\n" + cls["source"])),
    "saved_output_html": ("HTML and javascript outputs saved in a cell the student added",
                          lambda nb, cls: _append_cell(nb, dict(nbformat.v4.new_code_cell("1"), outputs=[
                              _output("text/html", ACTIVE_HTML), _output("application/javascript", SCRIPT),
                              _output("text/markdown", MARKDOWN)]))),
    "markdown_cell_html": ("a markdown cell with HTML, a javascript: link and an image from the server",
                           lambda nb, cls: _append_cell(nb, nbformat.v4.new_markdown_cell(MARKDOWN))),
    "raw_cell_html": ("a raw cell of type text/html", lambda nb, cls: _append_cell(
        nb, nbformat.v4.new_raw_cell(ACTIVE_HTML, metadata={"raw_mimetype": "text/html"}))),
    "svg_output": ("an SVG output with script and onload, run by the class cell",
                   lambda nb, cls: cls.update(source="from IPython.display import SVG, display\n"
                                              f"display(SVG({SVG!r}))\n" + cls["source"])),
    "javascript_link": ("a markdown link to javascript:, in the class cell's markdown neighbour",
                        lambda nb, cls: _append_cell(nb, nbformat.v4.new_markdown_cell(
                            f"[Run my demo](javascript:{SCRIPT})"))),
}

ACTIVE_TAGS = {"script", "iframe", "object", "embed", "form", "base", "meta", "svg", "style", "link", "frame"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background"}


class _Finder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self.open_active = [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") and (MARKER in value or "fetch(" in value):
                self.found.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and ("javascript:" in value.lower().replace(" ", "") or MARKER in value
                                           or "/api/" in value):
                self.found.append(f"<{tag} {name}={value[:60]!r}>")
        if tag in ACTIVE_TAGS:
            self.open_active.append(tag)
            if any(MARKER in (value or "") for _, value in attrs):
                self.found.append(f"<{tag}> pointing at the marker")

    def handle_endtag(self, tag):
        if self.open_active and self.open_active[-1] == tag:
            self.open_active.pop()

    def handle_data(self, data):
        if self.open_active and MARKER in data:
            self.found.append(f"<{self.open_active[-1]}> holding the marker")


def active_content(page):
    """What in the HTML ``page`` could run a vector's script or reach the server for it (empty: nothing)."""
    finder = _Finder()
    finder.feed(page)
    return finder.found
