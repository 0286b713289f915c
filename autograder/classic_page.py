"""nbconvert's HTML page of a template that extends the classic one, built without parsing it again.

HTMLExporter's last step parses the whole page with BeautifulSoup, to give alt text to images without any and make
the lab template's cells focusable: half the time a feedback page or a formgrader view takes. The classic template
has no such cells, so :class:`ClassicPageExporter` adds only the alt text, by :func:`with_alt_text`. A test checks
that its pages are nbconvert's, character for character once parsed.

Code is highlighted through a cache (:class:`CachedHighlight2HTML`): most cells of a class's notebooks are the
release's, the same for every student, and Pygments took a third of a feedback page's time.
"""

import json
import re

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

from autograder.safe_html import remembered


class ClassicPageExporter(HTMLExporter):
    """HTMLExporter (its settings, under ``HTMLExporter`` or this class's name), whose page is not parsed again."""

    def from_notebook_node(self, nb, resources=None, **kw):
        """HTMLExporter's page, without its last step (see the module's docstring); for other templates than
        :data:`CLASSIC_TEMPLATES`, HTMLExporter's own. The rest is HTMLExporter's code (nbconvert 7.17)."""
        if self.template_name not in CLASSIC_TEMPLATES:
            return super().from_notebook_node(nb, resources, **kw)  # a lab template's cells are made focusable there
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get("highlight_code", CachedHighlight2HTML(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                 resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return with_alt_text(page), resources


class CachedHighlight2HTML(Highlight2HTML):
    """nbconvert's code highlighter, its cells :func:`~autograder.safe_html.remembered` (by their source and everything
    else the HTML depends on)."""

    def __call__(self, source, language=None, metadata=None):
        try:
            options = json.dumps(self.extra_formatter_options, sort_keys=True)
        except TypeError:  # options that only Python can hold: highlighted every time
            return super().__call__(source, language, metadata)
        return _highlighted(source, language or self.pygments_lexer,
                            metadata.get("magics_language") if metadata else None, options)


@remembered
def _highlighted(source, language, magics_language, formatter_options):
    """Highlight2HTML's HTML of ``source``; ``formatter_options`` as JSON."""
    highlight = Highlight2HTML(pygments_lexer=language, extra_formatter_options=json.loads(formatter_options))
    return highlight(source, language, {"magics_language": magics_language} if magics_language else None)


# The kit's feedback pages, nbgrader's feedback pages and formgrader views, and the template they all extend.
CLASSIC_TEMPLATES = {"cnnkit_feedback", "feedback", "formgrade", "classic"}
# What the page is made of, in order: comments, style and script elements (skipped whole), and tags, whose quoted
# attribute values may hold "<" or ">". Text between them is not matched.
MARKUP = re.compile(r"<!--.*?-->|<(style|script)\b.*?</\1\s*>|<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I | re.S)
IMAGE_TAG = re.compile(r"<img[\s/>]", re.I)
QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
ALT_ATTRIBUTE = re.compile(r"\salt(?=[\s=/>])", re.I)
NO_DESCRIPTION = "No description has been provided for this image"  # nbconvert's words


def with_alt_text(page):
    """``page`` with alt="No description has been provided for this image" in every <img> tag that has no alt
    attribute, as nbconvert's HTMLExporter adds it."""
    def add(match):
        tag = match.group(0)
        if not IMAGE_TAG.match(tag) or ALT_ATTRIBUTE.search(QUOTED.sub('""', tag)):
            return tag
        end = len(tag) - (2 if tag.endswith("/>") else 1)
        return f'{tag[:end].rstrip()} alt="{NO_DESCRIPTION}"{tag[end:]}'

    return MARKUP.sub(add, page)
