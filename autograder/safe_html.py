"""Pages built from a submission show its content, never run it, and render in bounded time.

Plugged into nbconvert's HTML exporter by ``nbgrader_config.py``, so every page nbgrader builds from a notebook
uses it: the formgrader's submission views and the feedback pages, whichever command or button built them.

- :func:`clean_html` replaces nbconvert's ``clean_html`` filter, which the templates apply (with
  ``sanitize_html``) to markdown and raw cells, HTML and markdown outputs and highlighted code. It keeps text,
  tables, lists, headings, code, maths (MathML) and images given inline (``data:``), and drops the rest through `nh3`_ (the
  Ammonia sanitiser): script, event handlers, ``javascript:`` and other URLs that would make the reader's browser
  ask the Jupyter server for something, iframes, forms, SVG and style.
- :class:`SafeMarkdown` runs before the template: it renders every markdown cell and sanitises the result (nbgrader's
  templates do not sanitise markdown cells), and shows as plain text the markdown that is too long or holds the
  constructs that make markdown renderers slow (runs of link or image openers, deep nesting).

.. _nh3: https://nh3.readthedocs.io
"""

import base64
import functools
import re

import latex2mathml.converter
import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
        "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "tr", "u", "ul", "var"}
# MathML, as latex2mathml writes the maths of markdown cells (no links, no actions: maction and href are left out).
MATH_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mspace", "mtext", "mfrac", "msqrt", "mroot", "mstyle", "mpadded",
             "mphantom", "menclose", "msub", "msup", "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd",
             "semantics", "annotation"}
MATH_ATTRIBUTES = {"display", "xmlns", "mathvariant", "stretchy", "fence", "form", "separator", "accent",
                   "accentunder", "columnalign", "rowalign", "columnspacing", "rowspacing", "linethickness", "width",
                   "height", "depth", "lspace", "rspace", "movablelimits", "largeop", "symmetric", "minsize", "maxsize",
                   "notation", "scriptlevel", "displaystyle", "encoding"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height", "title"}, "td": {"colspan", "rowspan"},
              "th": {"colspan", "rowspan"}, "ol": {"start"}, "*": {"class"},
              **{tag: MATH_ATTRIBUTES for tag in MATH_TAGS if tag not in {"mtd"}},
              "mtd": MATH_ATTRIBUTES | {"columnspan", "rowspan"}}
INLINE_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z")
LINK = re.compile(r"(https?://|mailto:|#)", re.IGNORECASE)


def _attribute(tag, name, value):
    """Keep an image's source only when the image is inline, and a link only to the web or within the page."""
    if tag == "img" and name == "src":
        return value if INLINE_IMAGE.match(value) else None
    if tag == "a" and name == "href":
        return value if LINK.match(value.strip()) else None
    return value


# The release's 81 markdown and 67 code cells are at most 4,400 characters long. A long-lived process (the
# formgrader's page worker) remembers at most about 50 MB of a class's cells in these caches together.
RENDERED_MOST = 500  # pieces of HTML, cells of markdown, cells of code: each
LONGEST_REMEMBERED = 10_000  # characters: a cell of the release, not a student's flood


def remembered(function):
    """``function(text, *more)`` (``more`` hashable), remembering its last :data:`RENDERED_MOST` results for texts of
    at most :data:`LONGEST_REMEMBERED` characters: most cells of a class's notebooks are the release's, the same for
    every student. Longer texts are computed every time; ``.fresh`` is ``function`` itself."""
    cached = functools.lru_cache(maxsize=RENDERED_MOST)(function)

    @functools.wraps(function)
    def call(text, *more):
        return (cached if len(text) <= LONGEST_REMEMBERED else function)(text, *more)

    call.cache_info, call.fresh = cached.cache_info, function
    return call


def clean_html(html):
    """``html`` with every tag and attribute that could run script or reach the server removed (text kept);
    :func:`remembered`."""
    return _clean(html.decode() if isinstance(html, bytes) else str(html))


@remembered
def _clean(html):
    return nh3.clean(html, tags=TAGS | MATH_TAGS, attributes=ATTRIBUTES, attribute_filter=_attribute,
                     url_schemes={"http", "https", "mailto", "data"}, link_rel="noopener noreferrer nofollow",
                     strip_comments=True)


# ---- markdown that renders in bounded time --------------------------------------------------------------

LONGEST_MARKDOWN = 20_000  # characters in one cell or output
MOST_MARKDOWN = 100_000  # characters of markdown the student wrote, in all cells
MOST_OPENERS = 200  # "[" , "![" and "<" in one cell
DEEPEST_NESTING = 16  # ">" quote levels or list indentation steps
NESTING = re.compile(r"^(?:[ \t]*>){%d}|^(?:[ \t]{2,4}[-*+]?){%d}" % (DEEPEST_NESTING, DEEPEST_NESTING), re.M)


def too_slow_to_render(markdown):
    """Whether ``markdown`` is long or built like the inputs that make markdown renderers slow."""
    return (len(markdown) > LONGEST_MARKDOWN or markdown.count("[") + markdown.count("<") > MOST_OPENERS
            or NESTING.search(markdown) is not None)


WRAP = 100  # characters per line of plain text: the exporter's link-rewriting regex is quadratic in a line's length


def as_plain_text(markdown):
    """Markdown that shows ``markdown`` as a code block (a fence longer than any run of backticks in it), its lines
    wrapped."""
    longest = max((len(run) for run in re.findall(r"`+", markdown)), default=0)
    fence = "`" * max(3, longest + 1)
    lines = [line[start:start + WRAP] for line in markdown.splitlines() for start in range(0, max(len(line), 1), WRAP)]
    text = "\n".join(lines)
    return (f"*This markdown is shown as plain text: it is too long or too deeply nested to render safely.*\n\n"
            f"{fence}\n{text}\n{fence}\n")


def defused(markdown):
    """``markdown`` itself, or as plain text when it :func:`too_slow_to_render`."""
    return as_plain_text(markdown) if too_slow_to_render(markdown) else markdown


def _written_by_the_student(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return not (isinstance(meta, dict) and meta.get("locked"))


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with the maths as MathML, which browsers draw with no script and no network
    (latex2mathml); maths it cannot convert is left as TeX text."""

    def _mathml(self, latex, display, fallback):
        try:
            return latex2mathml.converter.convert(latex, display=display)
        except Exception:  # not TeX it knows, or built to exhaust it: shown as written
            return fallback

    def block_math(self, body):
        return self._mathml(body, "block", super().block_math(body))

    def inline_math(self, body):
        return self._mathml(body, "inline", super().inline_math(body))

    def latex_environment(self, name, body):
        return self._mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block", super().latex_environment(name, body))


def render_markdown(source, attachments=None):
    """HTML of a markdown cell, as nbconvert's HTML exporter renders it, but with its maths as MathML; cells without
    attachments are :func:`remembered`."""
    return _markdown_html.fresh(source, attachments) if attachments else _markdown_html(source)


@remembered
def _markdown_html(source, attachments=None):
    renderer = MathMLRenderer(escape=False, attachments=attachments or {}, anchor_link_text="¶")
    return MarkdownWithMath(renderer=renderer).render(source)


class SafeMarkdown(Preprocessor):
    """Every markdown cell becomes a raw HTML cell, rendered here and sanitised (nbgrader's formgrader and feedback
    templates render markdown cells without ``clean_html``; raw HTML cells always go through it). Markdown that
    :func:`too_slow_to_render` is shown as plain text first, and so is all the student's markdown when there is more
    than :data:`MOST_MARKDOWN` characters of it; markdown outputs that are too slow as well."""

    def preprocess(self, nb, resources):
        written = [cell for cell in nb.cells if cell.cell_type in ("markdown", "raw") and _written_by_the_student(cell)]
        resources["defuse_all_markdown"] = sum(len(cell.source) for cell in written) > MOST_MARKDOWN
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            everything = resources.get("defuse_all_markdown") and _written_by_the_student(cell)
            source = as_plain_text(cell.source) if everything else defused(cell.source)
            html = clean_html(cell.source if cell.metadata.get(INERT) else
                              render_markdown(source, cell.pop("attachments", None)))
            cell.cell_type, cell.source = "raw", f'<div class="text_cell_render border-box-sizing rendered_html">{html}</div>'
            cell.metadata["raw_mimetype"] = "text/html"
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if isinstance(data.get("text/markdown"), str):
                data["text/markdown"] = defused(data["text/markdown"])
        return cell, resources


SAFE_OUTPUTS = {"text/plain", "text/html", "text/latex", "image/png", "image/jpeg", "application/json"}


def safe_output_data(data):
    """An output's data with only inert representations: HTML sanitised, markdown rendered to sanitised HTML, SVG as
    an inline image (where no script runs), and nothing else that a front end could run (javascript, widgets)."""
    data = dict(data)
    if isinstance(data.get("text/markdown"), str):
        data.setdefault("text/html", render_markdown(defused(data.pop("text/markdown"))))
    if isinstance(data.get("image/svg+xml"), str):
        encoded = base64.b64encode(data.pop("image/svg+xml").encode()).decode()
        data.setdefault("text/html", f'<img src="data:image/svg+xml;base64,{encoded}">')
    if isinstance(data.get("text/html"), str):
        data["text/html"] = clean_html(data["text/html"])
    return {mime: value for mime, value in data.items() if mime in SAFE_OUTPUTS}


INERT = "cnnkit_inert_markdown"  # marks a markdown cell made inert: its pages sanitise it again, without rendering


def inert_markdown(source):
    """Markdown that a notebook front end renders without running or fetching anything: ``source`` rendered and
    sanitised here, as one HTML block with no blank line in it (so that no front end reads markdown in it again)."""
    html = clean_html(render_markdown(defused(source))).strip()
    return "<div>\n" + "\n".join(line if line.strip() else "<!-- -->" for line in html.splitlines()) + "\n</div>"


class SafeOutputs(Preprocessor):
    """In the autograded notebook, which a TA may open in JupyterLab, every output the kernel produced while grading
    keeps only inert representations (see :func:`safe_output_data`), and the markdown cells the student wrote become
    :func:`inert_markdown` (JupyterLab would load an image from the server for them, with the TA's session). Enabled
    by default: nbgrader registers its autograde preprocessors without enabling them."""

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and _written_by_the_student(cell):
            cell.source = inert_markdown(cell.source)
            cell.metadata[INERT] = True
        for output in cell.get("outputs", []):
            if "data" in output:
                output["data"] = safe_output_data(output["data"])
        return cell, resources
