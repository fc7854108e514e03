"""The HTML-to-text converter of mail bodies (store/sync/htmltext.py): exact output per rule, hostility."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.sync import mime
from store.sync.htmltext import html_to_text


def _text(html: str) -> str:
    problems: list[str] = []
    text = html_to_text(html, problems)
    assert problems == []
    return text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # dropped: invisible elements, comments, declarations, processing instructions
        ("<head><title>T</title><style>p {color: red}</style></head><body>Hi</body>", "Hi"),
        ("a<script>var s = '<p>x</p>';</script>b", "ab"),
        ("a<SCRIPT type=x>alert(1)</Script >b", "ab"),
        ("<template><p>t</p></template><noscript>n</noscript>ok", "ok"),
        ("a<!-- note <p>x</p> -->b<!---->c<!-->d", "abcd"),
        ("<!DOCTYPE html><?xml version='1.0'?>a<![CDATA[ x > y ]]>b", "ab"),
        ("<!--[if mso]><p>Outlook only</p><![endif]--><!--[if !mso]><!-->web<!--<![endif]-->", "web"),
        ("<![if !mso]>shown<![endif]>", "shown"),
        # blocks, line breaks, blank lines, whitespace
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<div>one</div><div>two</div><section>three</section>", "one\ntwo\nthree"),
        ("a<br>b<br/>c<br><br><br><br>d", "a\nb\nc\n\nd"),
        ("<p>a</p>\n\n<p></p><div></div><br><br><p>b</p>", "a\n\nb"),
        ("<p>  lots   of\n\t space\r\n here </p>", "lots of space here"),
        ("a<span> b </span>c", "a b c"),
        ("<dl><dt>term</dt><dd>meaning</dd></dl><address>street</address>", "term\nmeaning\n\nstreet"),
        ("<p>x</p><hr><p>y</p>", "x\n\ny"),
        ("<form><fieldset>f</fieldset></form><article>a</article>", "f\n\na"),
        ("<pre>  code\n    indented\n</pre>after", "code\n    indented\n\nafter"),
        ("<p>x</p><pre>a  b\n\n\n\nc</pre>", "x\n\na  b\n\nc"),
        # entities
        ("a&nbsp;b&nbsp;&nbsp;c &amp; &lt;tag&gt; &#65;&#x42; &eacute;", "a b c & <tag> AB é"),
        ("&bogus; &#0; &#xD800; &#99999999999;", "&bogus; \ufffd \ufffd \ufffd"),
        # the markdown flavour
        ("<p>x <b>bold</b> and <strong> strong </strong>y</p>", "x **bold** and **strong** y"),
        ("<i>it</i> <em>em</em><b></b><b> </b>.", "_it_ _em_ ."),
        ("<b><b>twice</b></b>", "**twice**"),
        ("<h1>Title</h1><h2>Sub</h2><p>text</p><h6>six</h6>", "# Title\n\n## Sub\n\ntext\n\n###### six"),
        ("<h1></h1><p>no heading</p>", "no heading"),
        ("<ul><li>one</li><li>two</li></ul><p>after</p>", "* one\n* two\n\nafter"),
        ("<ol><li>one<li>two</ol>", "1. one\n2. two"),
        ("<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "* a\n  * b\n* c"),
        ("<ul><li></li><li>only</li></ul>", "* only"),
        (
            "<p>x</p><blockquote><p>q1</p><p>q2<br>q3</p></blockquote><p>y</p>",
            "x\n\n> q1\n>\n> q2\n> q3\n\ny",
        ),
        ("<blockquote>a<blockquote>b</blockquote></blockquote>", "> a\n>\n> > b"),
        ('<a href="https://x.example/a?b=1&amp;c=2">click</a>', "[click](https://x.example/a?b=1&c=2)"),
        ("<a href='https://x.example'>https://x.example</a>", "https://x.example"),
        (
            "<a href=mailto:a@x.example>write</a> <a href=javascript:void(0)>js</a> <a href=#top>up</a>",
            "write js up",
        ),
        ('<a href="">empty</a> <a>none</a>', "empty none"),
        ('<a href="https://x.example"><img src="i.png" alt="logo"></a>text', "text"),
        ('<a href="u1">one<a href="u2">two</a>', "[one](u1)[two](u2)"),
        ('<a title="a > b" href="u">t</a>', "[t](u)"),
        ("<img src=x alt='Alt text'>visible", "visible"),
        (
            "<table><tr><th>h1</th><th>h2</th></tr><tr><td>a</td><td>b</td><td>c</td></tr></table>",
            "h1 | h2\na | b | c",
        ),
        ("<table><tr><td></td><td>only</td></tr></table>", "only"),
        ("<p>unclosed <b>bold <i>and italic", "unclosed **bold _and italic_**"),
    ],
)
def test_rules(html: str, expected: str) -> None:
    assert _text(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("a < b and c<3 and x </ y", "a < b and c<3 and x </ y"),
        ("text <b unclosed tag", "text <b unclosed tag"),
        # an unterminated quoted value ends at the next '>' instead of hiding the rest
        ('<p>x</p><a href="never closed>y</a><p>z</p>', "x\n\ny\n\nz"),
        ('<img alt="x>y</p><p>z', "y\n\nz"),
        ('<a x="1>text "quoted', 'text "quoted'),
        ('<a x="1>text "quoted" <b>b</b>', "b"),  # the value is '1>text ', as a browser reads it
        ("before<!-- never closed <p>after", "before"),
        ("before<script>never closed", "before"),
        ("before<![CDATA[never closed", "before"),
        ("a\x00b<p\x00>c", "ab\n\nc"),
        ("</p></b></ul></blockquote></a></table>text", "text"),
        ("<td>cell</td><tr>row</tr><li>item</li>", "cell\nrow\n* item"),
        ("<p>pre" + "\u200c&nbsp;" * 50 + "view</p><p>zero\u200cwidth</p>", "pre view\n\nzero\u200cwidth"),
    ],
)
def test_hostile_and_broken_input(html: str, expected: str) -> None:
    assert _text(html) == expected


def test_no_leading_or_trailing_whitespace_on_the_result_or_its_lines() -> None:
    text = _text("<br><p> \n</p><blockquote><p>quoted </p><p></p></blockquote><pre>x   \n  </pre><br>")
    assert text == "> quoted\n\nx"


def test_deep_nesting_completes() -> None:
    depth = 10_000
    for tag in ("div", "b", "blockquote", "ul><li", "table><tr><td", "a href=u"):
        html = f"<{tag}>" * depth + "deep" + f"</{tag.split('>')[0].split()[0]}>" * depth
        assert "deep" in _text(html)


def test_megabytes_of_input_complete() -> None:
    para = "<p>Some <b>bold</b> text &amp; a <a href='https://x.example/l'>link</a></p>\n"
    assert _text(para * (2_000_000 // len(para))).count("**bold**") == 2_000_000 // len(para)
    for soup in (
        "<" * 2_000_000,
        "<a " * 700_000,
        '<a x="' * 350_000,
        "<!--" * 500_000,
        "&#" * 1_000_000,
        "<p>" * 700_000,
        " \u200c" * 1_000_000,
        '<a x=">" ' * 200_000,
    ):
        _text(soup)


_PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<b>",
        "</b>",
        "<i>",
        "</em>",
        "<br>",
        "<li>",
        "<ul>",
        "</ol>",
        "<blockquote>",
        "</blockquote>",
        "<td>",
        "<tr>",
        "<table>",
        "</table>",
        "<pre>",
        "</pre>",
        "<h2>",
        "</h2>",
        '<a href="u">',
        "</a>",
        "<img src=x>",
        "&amp;",
        "&nbsp;",
        "&#",
        "<!-- c -->",
        "<div class=x>",
        "\n",
        " ",
    ]
)
_WORDS = st.text(alphabet=st.characters(blacklist_characters="<>\"'=&"), max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(st.one_of(_PIECES, _WORDS), max_size=40), after=st.lists(st.one_of(_PIECES, _WORDS)))
def test_tag_soup_never_shows_script_content(before: list[str], after: list[str]) -> None:
    html = "".join(before) + "<script>SECRETCODE</script>" + "".join(after)
    text = _text(html)
    assert "SECRETCODE" not in text
    assert text == text.strip()
    assert all(line == line.rstrip() for line in text.split("\n"))
    assert "\n\n\n" not in text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_never_raises(html: str) -> None:
    problems: list[str] = []
    assert isinstance(html_to_text(html, problems), str)
    assert problems == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="<>/!-?[]\"'= abp&#;x\x00"))
def test_punctuation_soup_never_raises(html: str) -> None:
    _text(html)


def test_an_html_only_message_gets_the_converters_text() -> None:
    html = (
        "<html><body><h1>Title</h1><p>Para <b>bold</b> <a href='https://x.example'>site</a></p></body></html>"
    )
    raw = b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    body = mime.parse_body(raw)
    assert body.text == "# Title\n\nPara **bold** [site](https://x.example)"
    assert body.text == _text(html)
    assert body.problems == []
