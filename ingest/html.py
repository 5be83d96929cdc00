"""Article text and metadata from HTML, with text hidden from readers removed first."""

from __future__ import annotations

import re

import lxml.html
import trafilatura
from lxml import etree

from ingest.errors import IngestError

# Elements whose content a reader never sees as page text.
_INVISIBLE_TAGS = {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "canvas",
                   "audio", "video", "input", "select", "option", "textarea", "datalist"}
# Attributes that carry text a reader does not see as part of the story (tooltips, alt text, labels).
_TEXT_ATTRIBUTES = ("alt", "title", "aria-label", "aria-description", "aria-roledescription", "placeholder", "value",
                    "content", "label", "summary", "longdesc")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_ZERO = re.compile(r"^\s*[-+]?(?:0+\.?0*|\.0+)\s*(?:[a-z%]+)?\s*$", re.I)
_FAR_OFF = re.compile(r"^\s*-\s*(?:\d{4,}(?:\.\d*)?\s*(?:px|pt)?|\d{3,}(?:\.\d*)?\s*(?:em|rem|vw|vh|%))\b", re.I)
_TINY = re.compile(rf"^\s*(?:{_NUMBER})\s*(px|pt|em|rem|%)?\s*$", re.I)
_STYLE_RULE = re.compile(r"([^{}@]+)\{([^{}]*)\}")
_AT_BLOCK = re.compile(r"@[^{};]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}|@[^{};]*;")
_SIMPLE_SELECTOR = re.compile(r"^\s*([a-z][a-z0-9-]*)?((?:[.#][\w-]+)+)\s*$", re.I)
_SHORT_HEX = re.compile(r"^#([0-9a-f])([0-9a-f])([0-9a-f])$")
_NAMED = {"white": "#ffffff", "black": "#000000", "#fff": "#ffffff", "#000": "#000000"}


def _declarations(style: str) -> dict[str, str]:
    out = {}
    for part in style.split(";"):
        name, sep, value = part.partition(":")
        if sep:
            out[name.strip().lower()] = value.replace("!important", "").strip().lower()
    return out


def _colour(value: str) -> str:
    value = re.sub(r"\s+", "", value)
    short = _SHORT_HEX.match(value)
    if short:
        value = "#" + "".join(c * 2 for c in short.groups())
    return _NAMED.get(value, value)


def _tiny_font(value: str) -> bool:
    m = _TINY.match(value)
    if not m:
        return False
    size = float(re.match(_NUMBER, value.strip()).group(0))
    unit = (m.group(1) or "px").lower()
    return size <= {"px": 1.5, "pt": 1.0, "em": 0.1, "rem": 0.1, "%": 10}[unit]


def _tiny_box(value: str) -> bool:
    return bool(_ZERO.match(value) or re.match(r"^\s*(?:0?\.\d+|1(?:\.0*)?)\s*px\s*$", value))


def _hidden_by_style(style: str) -> bool:
    """True when these declarations make an element invisible or put it where no reader looks."""
    d = _declarations(style)
    if d.get("display", "").startswith("none") or d.get("visibility", "").startswith(("hidden", "collapse")):
        return True
    if d.get("content-visibility", "").startswith("hidden"):
        return True
    if "opacity" in d and _ZERO.match(d["opacity"]):
        return True
    if "font-size" in d and (_ZERO.match(d["font-size"]) or _tiny_font(d["font-size"])):
        return True
    if any(_FAR_OFF.match(d.get(p, "")) for p in ("left", "top", "right", "bottom", "text-indent", "margin-left",
                                                  "margin-top", "margin-right", "margin-bottom")):
        return True
    transform = d.get("transform", "")
    if re.match(r"translate[xy]?\(\s*-\s*\d{4,}", transform) or re.match(r"scale\(\s*0\s*[,)]", transform):
        return True
    if re.match(r"rect\(\s*0(?:px)?[\s,]+0", d.get("clip", "")) or re.match(r"inset\(\s*(?:50|100)%", d.get("clip-path", "")):
        return True
    clipped = d.get("overflow", "").startswith(("hidden", "clip"))
    if clipped and any(_tiny_box(d.get(p, "")) for p in ("width", "height", "max-width", "max-height")):
        return True
    colour = _colour(d.get("color", ""))
    if colour in {"transparent", "rgba(0,0,0,0)"}:
        return True
    background = _colour(d.get("background-color") or d.get("background", ""))
    return bool(colour) and colour == background


def _hidden_classes(root: lxml.html.HtmlElement) -> tuple[set[str], set[str]]:
    """Classes and ids that the page's own style sheets hide (rules inside @media etc. are skipped:
    they hide only on some screens)."""
    classes: set[str] = set()
    ids: set[str] = set()
    for style in root.iter("style"):
        css = re.sub(r"/\*.*?\*/", "", style.text or "", flags=re.S)
        css = _AT_BLOCK.sub("", css)
        for selectors, body in _STYLE_RULE.findall(css):
            if not _hidden_by_style(body):
                continue
            for selector in selectors.split(","):
                m = _SIMPLE_SELECTOR.match(selector)
                if m:
                    for kind, name in re.findall(r"([.#])([\w-]+)", m.group(2)):
                        (classes if kind == "." else ids).add(name)
    return classes, ids


def strip_hidden(html: str) -> str:
    """Drop comments, scripts and every element a reader cannot see: hidden by an attribute
    (hidden, aria-hidden), by inline CSS or by a class or id the page's <style> hides (display,
    visibility, opacity, zero or tiny font size, off-screen offsets, clipping, text coloured like
    its background), closed dialogs, and text in attributes (alt, title, aria-label)."""
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=False)
    try:
        try:
            root = lxml.html.document_fromstring(html, parser=parser)
        except ValueError:  # "<?xml … encoding=…?>" (XHTML) is refused in a str: parse the bytes instead
            root = lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        return ""  # nothing lxml can read as a document: nothing a reader would see either
    hidden_classes, hidden_ids = _hidden_classes(root)
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower().rpartition("}")[2]
        classes = set((el.get("class") or "").split())
        hidden = (
            tag in _INVISIBLE_TAGS
            or (tag == "dialog" and el.get("open") is None)
            or el.get("hidden") is not None
            or (el.get("aria-hidden") or "").strip().lower() == "true"
            or _hidden_by_style(el.get("style") or "")
            or bool(classes & hidden_classes)
            or (el.get("id") or "") in hidden_ids
        )
        if hidden and el.getparent() is not None:
            el.drop_tree()
            continue
        for name in _TEXT_ATTRIBUTES:
            if name in el.attrib and tag not in {"meta", "link"}:  # their content is the page's metadata
                del el.attrib[name]
    return lxml.html.tostring(root, encoding="unicode")


def check_parsable(html: str) -> None:
    """Refuse HTML past libxml2's limits (nesting deeper than 256 levels, a text node over 10 MB):
    the parser would silently drop everything beyond them, so what we stored would not be the page."""
    parser = lxml.html.HTMLParser()
    try:
        try:
            lxml.html.document_fromstring(html, parser=parser)
        except ValueError:  # "<?xml … encoding=…?>" is refused in a str: the bytes parse the same
            lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, ValueError):
        return
    limit = next((e for e in parser.error_log if e.type_name == "ERR_RESOURCE_LIMIT"), None)
    if limit is not None:
        raise IngestError(f"HTML is past the parser's limits ({limit.message.split(',')[0]})")


def extract_html(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    """(text, metadata) where metadata may hold title, published, source, author, url."""
    check_parsable(html)
    visible = strip_hidden(html)
    text = trafilatura.extract(visible, url=url, include_comments=False, include_tables=False,
                               favor_precision=True, deduplicate=True)
    if not text:
        text = trafilatura.extract(visible, url=url, include_comments=False, favor_recall=True)
    if not text:  # short fragments (feed summaries) that trafilatura finds too small
        try:
            text = lxml.html.fromstring(visible).text_content()
        except (etree.ParserError, ValueError):
            text = ""
    meta = trafilatura.extract_metadata(visible, default_url=url)
    hints: dict[str, str] = {}
    if meta is not None:
        for key, attr in (("title", "title"), ("published", "date"), ("source", "sitename"),
                          ("author", "author"), ("url", "url")):
            value = getattr(meta, attr, None)
            if value:
                hints[key] = str(value)
    return text or "", hints
