"""Plain text of an HTML mail body, in the light markdown flavour the previews and search use.

`**bold**`, `_italic_`, `# headings`, `* items` / `1. items`, `> quotes`, `[text](url)` links, table cells
joined with ` | `; images, scripts, styles, titles and comments dropped; whitespace collapsed (kept in
<pre>); at most one blank line in a row.

One forward pass: a regex finds the next tag start, the text before it is decoded and written, and the
tag only changes a little state (pending line breaks, pending markers, list/quote/table depth). No
recursion and no rescanning: hostile HTML (unclosed tags or quotes, 10,000 levels of nesting, megabytes
of tag soup) costs linear time. An unterminated comment or script ends the text, as in a browser; a
tag without a '>' is kept as text, and an unterminated quoted value ends at the next '>'.
"""

from __future__ import annotations

import re
from html import unescape

# The next tag, end tag, comment/declaration ('<!') or processing instruction ('<?'); "a < b" or "</ x"
# stays text. Quotes count only right after '=' (as in browsers). Every part is atomic or possessive, so
# nothing backtracks; a tag's attributes end at its '>' or at the end of the input (then group 4 is "").
_ATTRS = r"""(?>[^>"'=]++|=\s*+(?>"[^"]*+"|'[^']*+')|[="'])*+"""
_TOKEN = re.compile(rf"<(?:(/?)([A-Za-z][^\s/>]*+)({_ATTRS})(>?)|[!?])")
# Used once a quoted value ran to the end of the input: from then on a tag ends at its next '>'.
_TOKEN_LOOSE = re.compile(r"<(?:(/?)([A-Za-z][^\s/>]*+)([^>]*+)(>?)|[!?])")
_HREF = re.compile(r"""(?:^|\s)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.I)
# Elements whose content is never shown (script/style are raw text: their content is not parsed).
_SKIP = "script style title template noscript iframe noembed noframes xmp".split()
_SKIP_END = {name: re.compile(rf"</{name}(?=[\s/>])", re.I) for name in _SKIP}
# Invisible characters newsletters pad their preview text with; they go only together with whitespace
# (between letters a zero-width non-joiner or space belongs to the word). The look-behind makes a run
# be tried once from its start, so long runs cost linear time.
_INVISIBLE = "\u034f\u200b\u200c\u2060\ufeff\xad"
_WS = " \t\n\r\f\xa0"
_SPACE = re.compile(f"(?<![{_INVISIBLE}])[{_INVISIBLE}]*+[{_WS}][{_WS}{_INVISIBLE}]*+")
# Blocks and the line breaks around them: 2 = a blank line, 1 = a new line.
_BLOCK = dict.fromkeys("p table pre dl hr address form fieldset figure".split(), 2)
_BLOCK |= dict.fromkeys("div section article header footer main nav aside center caption".split(), 1)
_BLOCK |= dict.fromkeys("figcaption details summary legend dt dd tr".split(), 1)
_HEADINGS = {f"h{n}": "#" * n + " " for n in range(1, 7)}
_MARKERS = {"b": "**", "strong": "**", "i": "_", "em": "_"}
_KNOWN = {*_BLOCK, *_HEADINGS, *_MARKERS, "br", "td", "th", "a", "ul", "ol", "li", "blockquote"}
_MAX_INDENT = 10  # list nesting and quote depth shown at most; deeper levels look the same


class _Writer:
    """The output and the state that decides what goes before the next piece of visible text."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.written = False  # any visible text yet (no break is written before the first)
        self.line_start = True
        self.brk = 0  # pending line breaks, at most 2 (a blank line)
        self.brk_quote = 0  # the shallowest quote depth while the break was pending (for blank lines)
        self.space = False  # whitespace seen since the last text
        self.sep = False  # a table cell began after text in its row: ' | ' before the next text
        self.lead = ""  # the heading or list marker of the line
        self.opens: list[object] = []  # markers not yet written: '**', '_', or a link (a list)
        self.depth = {"**": 0, "_": 0}
        self.inline: list[object] = []  # open markers and link, in the order they opened
        self.link: list | None = None  # [href, index of its '[' in out or -1]
        self.quote = 0
        self.pre = 0
        self.lists: list[list[int]] = []  # [ordered, count] per open list
        self.rows: list[bool] = []  # per open table: its current row has text

    def brk_at_least(self, n: int) -> None:
        if self.brk == 0:
            self.brk_quote = self.quote
        self.brk = max(self.brk, n)
        self.space = False

    def write(self, s: str) -> None:
        """Write visible text *s*, after the pending breaks, markers and separator."""
        out = self.out
        if self.brk or not self.written:
            if self.written:
                blank = ("> " * min(self.brk_quote, _MAX_INDENT)).rstrip()  # a blank line keeps its quote
                out.append("\n" + (blank + "\n") * (self.brk - 1))
            out.append("> " * min(self.quote, _MAX_INDENT))
            self.brk = 0
            self.line_start = True
        if self.lead:
            out.append(self.lead)
            self.lead = ""
        if not self.line_start:
            if self.sep:
                out.append(" | ")
            elif self.space:
                out.append(" ")
        for item in self.opens:
            if isinstance(item, list):  # a link: remember where its '[' went
                item[1] = len(out)
                out.append("[")
            else:
                out.append(item)
        self.opens.clear()
        out.append(s)
        self.written = True
        self.line_start = self.space = self.sep = False
        if self.rows:
            self.rows[-1] = True

    def text(self, chunk: str) -> None:
        if "&" in chunk:
            chunk = unescape(chunk)
        if self.pre:
            for i, line in enumerate(chunk.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
                if i:  # a line break, as <br>
                    self.brk_at_least(min(self.brk + 1, 2))
                if line:
                    self.write(line.replace("\xa0", " "))
            return
        if not chunk.isascii() and any(c in chunk for c in _INVISIBLE):  # (faster than a regex)
            chunk = _SPACE.sub(" ", chunk)
        words = chunk.split()  # str.split() collapses all whitespace, \xa0 (from &nbsp;) included
        if chunk[:1].isspace():
            self.space = True
        if words:
            word = " ".join(words)
            if word.strip(_INVISIBLE):
                self.write(word)
                self.space = chunk[-1].isspace()

    def close_marker(self, marker: object) -> None:
        """Close a marker: forget it if nothing was written since it opened, else write its end."""
        if marker in self.opens:
            self.opens.remove(marker)
        elif isinstance(marker, list):
            start, out = marker[1], self.out
            text = "".join(out[start + 1 :]).strip() if len(out) - start < 64 else None
            if text == marker[0]:
                out[start] = ""  # the link text is the url itself
            else:
                out.append(f"]({marker[0]})")
        else:
            self.out.append(marker)  # type: ignore[arg-type]

    def tag(self, end: bool, name: str, attrs: str) -> None:
        brk = _BLOCK.get(name)
        if brk is not None:
            self.brk_at_least(brk)
            if name == "tr" and self.rows:
                self.rows[-1] = False
            elif name == "table":
                if not end:
                    self.rows.append(False)
                elif self.rows:
                    self.rows.pop()
            elif name == "pre":
                self.pre = max(0, self.pre - 1) if end else self.pre + 1
        elif name == "br":  # one more line break; two make a blank line
            self.brk_at_least(min(self.brk + 1, 2))
        elif name in ("td", "th"):
            if not end and self.rows and self.rows[-1]:
                self.sep = True
        elif name in _MARKERS:
            marker = _MARKERS[name]
            depth = self.depth[marker]
            if not end:
                if depth == 0:
                    self.opens.append(marker)
                    self.inline.append(marker)
                self.depth[marker] = depth + 1
            elif depth:
                self.depth[marker] = depth - 1
                if depth == 1:
                    self.close_marker(marker)
                    self.inline.remove(marker)
        elif name == "a":
            if self.link is not None:  # links do not nest: a new one ends the open one
                self.close_marker(self.link)
                self.inline.remove(self.link)
                self.link = None
            if not end:
                m = _HREF.search(attrs)
                href = unescape(next(g for g in m.groups() if g is not None)).strip() if m else ""
                if href and not href.lower().startswith(("mailto:", "javascript:", "#")):
                    self.link = [href, -1]
                    self.opens.append(self.link)
                    self.inline.append(self.link)
        elif name in _HEADINGS:
            self.brk_at_least(2)
            self.lead = "" if end else _HEADINGS[name]
        elif name in ("ul", "ol"):
            self.brk_at_least(1 if self.lists else 2)
            if end:
                if self.lists:
                    self.lists.pop()
                self.lead = ""
            else:
                self.lists.append([name == "ol", 0])
            if not self.lists:
                self.brk_at_least(2)
        elif name == "li":
            self.brk_at_least(1)
            self.lead = ""
            if not end:
                bullet = "* "
                if self.lists:
                    if self.lists[-1][0]:
                        self.lists[-1][1] += 1
                        bullet = f"{self.lists[-1][1]}. "
                    bullet = "  " * min(len(self.lists) - 1, _MAX_INDENT) + bullet
                self.lead = bullet
        elif name == "blockquote":
            self.brk_at_least(2)
            self.quote = max(0, self.quote - 1) if end else self.quote + 1
            self.brk_quote = min(self.brk_quote, self.quote)

    def finish(self) -> str:
        for marker in reversed(self.inline):  # what the HTML left open
            self.close_marker(marker)
        text = "\n".join(line.rstrip() for line in "".join(self.out).split("\n"))
        if "\n\n\n" in text:  # lines of spaces in <pre> became empty
            text = re.sub(r"\n{3,}", "\n\n", text)
        return text.strip()


def _convert(html: str) -> str:
    w = _Writer()
    html = html.replace("\x00", "")
    n = len(html)
    last_gt = html.rfind(">")
    token = _TOKEN
    pos = 0
    while True:
        m = token.search(html, pos)
        start = m.start() if m else n
        if start > pos:
            chunk = html[pos:start]
            if w.pre or not chunk.isspace():
                w.text(chunk)
            else:
                w.space = True
        if m is None:
            break
        end_tag, name, attrs, gt = m.groups()
        if name is None:  # comment, CDATA, doctype, conditional-comment marker, processing instruction
            if html.startswith("<!--", start):
                end, size = html.find("-->", start + 2), 3  # from "<!" on, so "<!-->" is a whole comment
            elif html.startswith("<![CDATA[", start):
                end, size = html.find("]]>", start + 9), 3
            else:
                end, size = html.find(">", start + 2), 1
            pos = n if end < 0 else end + size  # unterminated: the rest is inside it
            continue
        if not gt:  # the tag ran to the end of the input
            if start > last_gt:  # no '>' follows at all: the rest is text
                w.text(html[start:])
                break
            token, pos = _TOKEN_LOOSE, start  # a quoted value swallowed it: end tags at the next '>'
            continue
        pos = m.end()
        name = name.lower()
        if name in _KNOWN:
            w.tag(end_tag == "/", name, attrs)
        elif name in _SKIP_END and not end_tag:
            close = _SKIP_END[name].search(html, pos)
            gt = html.find(">", close.end()) if close else -1
            pos = n if gt < 0 else gt + 1
    return w.finish()


def html_to_text(html: str, problems: list[str]) -> str:
    """Readable text of an HTML body (see the module doc); never raises. Should the converter fail
    anyway, the problem is noted and the text without its tags is returned."""
    try:
        return _convert(html)
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the message; keep a crude text
        problems.append(f"HTML not converted: {type(exc).__name__}")
        crude = unescape(re.sub(r"<[^<>]*>", " ", html.replace("\x00", "")))
        return re.sub(r"[ \t\r\f\xa0]+", " ", crude).strip()
