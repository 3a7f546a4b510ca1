"""Write the conformance corpus: tests/conformance/site/, site_utc/ and site_errors/<case>/.

The sites are committed; this script is how they were made, and remakes them byte for byte
(`python tests/conformance/make_sites.py`). Every post is spelled out below as its raw file text,
so the YAML each case needs is exactly what is written: quoting, zones, lists.

Each post's comment says what it is for. Nothing here encodes what Jekyll *does* with a case;
that comes from running the real Jekyll (jekyll_dump.rb) and is recorded in REPORT.md.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fm(*lines: str) -> str:
    """Front matter block from its lines."""
    return "---\n" + "".join(line + "\n" for line in lines) + "---\n"


LOREM = ("The river ferry timetable changes on Monday; the first boat leaves at six and the last at "
         "eleven. Riders with monthly passes keep them.")
PARA2 = "A second paragraph, so the default excerpt (everything before the first blank line) is visible."
BODY = f"{LOREM}\n\n{PARA2}\n"
ZH = "青川市轮渡时刻表周一起调整，首班六点，末班十一点。持月票的乘客无需换票。"
ZH_BODY = f"{ZH}\n\n第二段：默认摘要是第一个空行之前的全部内容。\n"

# ---------------------------------------------------------------------------------------------
# The main site: timezone Asia/Shanghai, default (date) permalink style.
# ---------------------------------------------------------------------------------------------

MAIN_CONFIG = """\
# Conformance corpus for feedsvc against Jekyll 4.3 + jekyll-feed 0.17 (tests/conformance/).
title: "Conformance \\"Test\\" Site -- feeds"
description: A site of awkward posts, built by the real Jekyll and by feedsvc, then compared.
url: https://news.example.com
baseurl: ""
lang: zh-CN
timezone: Asia/Shanghai
author:
  name: Site Desk
  email: desk@example.com
  uri: https://news.example.com/about/
plugins:
  - jekyll-feed
feed:
  posts_limit: 1000
  categories:
    - news
    - 东方网新闻
    - World
  tags:
    except:
      - skipme
defaults:
  - scope:
      path: "_posts/defaults"
    values:
      author: Defaults Author
      tags: [from-defaults]
"""

INCLUDE_NOTE = '<aside class="note">Note: {{ include.text | default: "included text" }}</aside>\n'
LAYOUT_DEFAULT = "<!doctype html>\n<html><body>{{ content }}</body></html>\n"
LAYOUT_POST = "---\nlayout: default\n---\n<article>{{ content }}</article>\n"
AUTHORS = """\
alice:
  name: Alice Zhang
  email: alice@example.com
  uri: https://example.com/alice
carol:
  name: Carol Li
"""

# (relative path, text) -- text is str (written UTF-8, LF) unless bytes.
MAIN_POSTS: list[tuple[str, str | bytes]] = []


def post(path: str, text: str | bytes) -> None:
    MAIN_POSTS.append((path, text))


# ---- (a) dates ------------------------------------------------------------------------------
post("_posts/2022-05-12-offset-plus0800.md",  # the news site's form: colon-less offset after a space
     fm('title: "Offset +0800"', "date: 2022-05-12 23:30:00 +0800", "categories: dates") + BODY)
post("_posts/2022-05-12-unquoted-zoneless.md",  # YAML timestamp without zone
     fm('title: "Unquoted zoneless timestamp"', "date: 2022-05-12 23:30:00", "categories: dates") + BODY)
post("_posts/2022-05-12-quoted-zoneless.md",  # a string, not a YAML timestamp
     fm('title: "Quoted zoneless string"', 'date: "2022-05-12 23:30:00"', "categories: dates") + BODY)
post("_posts/2022-05-12-date-only.md",  # YAML date
     fm('title: "Date only"', "date: 2022-05-12", "categories: dates") + BODY)
post("_posts/2022-05-12-iso-z.md",  # ISO 8601 with Z; 04:00 next day in Shanghai
     fm('title: "ISO with Z"', "date: 2022-05-12T20:00:00Z", "categories: dates") + BODY)
post("_posts/2022-05-12-no-date.md",  # no date at all: the file name's date
     fm('title: "No date in front matter"', "categories: dates") + BODY)
post("_posts/2022-05-12-near-midnight-utc.md",  # 16:30 UTC = 00:30 next day in Shanghai
     fm('title: "Near midnight, explicit UTC offset"', "date: 2022-05-12 16:30:00 +0000",
        "categories: dates") + BODY)
post("_posts/2022-05-13-near-midnight-minus10.md",  # 23:59:59 -1000 = 17:59:59 on the 14th +0800
     fm('title: "Near midnight, -1000"', "date: 2022-05-13 23:59:59 -1000", "categories: dates") + BODY)
post("_posts/2022-05-13-zoneless-before-midnight.md",  # 16:30 zoneless timestamp: UTC or site zone?
     fm('title: "Zoneless 16:30 timestamp"', "date: 2022-05-13 16:30:00", "categories: dates") + BODY)
post("_posts/2022-05-14-iso-offset-0530.md",
     fm('title: "ISO with +05:30"', "date: 2022-05-14T08:00:00+05:30", "categories: dates") + BODY)
post("_posts/2022-05-14-colon-offset-after-space.md",  # "+08:00" after a space: timestamp or string?
     fm('title: "Space then +08:00"', "date: 2022-05-14 10:00:00 +08:00", "categories: dates") + BODY)
post("_posts/2022-05-14-fractional-seconds.md",
     fm('title: "Fractional seconds"', "date: 2022-05-14 10:11:12.345 +0800", "categories: dates") + BODY)
post("_posts/2022-05-14-no-seconds.md",  # not a YAML timestamp (seconds missing): a string
     fm('title: "No seconds"', "date: 2022-05-14 10:00", "categories: dates") + BODY)
post("_posts/2022-05-14-rfc2822-string.md",
     fm('title: "RFC 2822 date string"', 'date: "Sat, 14 May 2022 09:00:00 +0000"', "categories: dates")
     + BODY)
post("_posts/2022-01-01-front-matter-date-wins.md",  # file name says Jan, front matter says Feb
     fm('title: "Front matter date differs from file name"', "date: 2022-02-02 02:02:02 +0800",
        "categories: dates") + BODY)
post("_posts/2099-12-31-past-by-front-matter.md",  # future file name, past front-matter date
     fm('title: "Future file name, past date"', "date: 2021-03-04 10:00:00 +0800", "categories: dates")
     + BODY)
post("_posts/2099-01-01-future-post.md",  # in the future: not published
     fm('title: "Future post"', "date: 2099-01-01 10:00:00 +0800", "categories: dates") + BODY)
post("_posts/2020-01-01-future-by-front-matter.md",  # past file name, future front-matter date
     fm('title: "Past file name, future date"', "date: 2099-06-01 10:00:00 +0800", "categories: dates")
     + BODY)
post("_posts/2022-05-15-last-modified.md",
     fm('title: "last_modified_at as timestamp"', "date: 2022-05-15 09:00:00 +0800",
        "last_modified_at: 2022-06-01 12:00:00 +0800", "categories: dates") + BODY)
post("_posts/2022-05-15-last-modified-string.md",
     fm('title: "last_modified_at as quoted string"', "date: 2022-05-15 09:30:00 +0800",
        'last_modified_at: "2022-06-02"', "categories: dates") + BODY)
post("_posts/2022-05-15-last-modified-before-date.md",  # modified before published
     fm('title: "last_modified_at earlier than date"', "date: 2022-05-15 10:00:00 +0800",
        "last_modified_at: 2022-05-01 10:00:00 +0800", "categories: dates") + BODY)
post("_posts/2022-05-16-same-instant-a.md",  # two posts at the same instant: order by path
     fm('title: "Same instant A"', "date: 2022-05-16 08:00:00 +0800", "categories: dates") + BODY)
post("_posts/2022-05-16-same-instant-b.md",
     fm('title: "Same instant B"', "date: 2022-05-16 08:00:00 +0800", "categories: dates") + BODY)

# ---- (b) which files are posts --------------------------------------------------------------
EXT_BODY = "Some *emphasis* and a [link](/about/).\n\nSecond paragraph.\n"
for ext in ("markdown", "mkd", "mkdn", "mkdown", "text", "Rmd", "txt", "htm", "MD"):
    slug = "ext-" + ext.lower() + ("-upper" if ext == "MD" else "")
    post(f"_posts/2022-06-01-{slug}.{ext}",
         fm(f'title: "Extension .{ext}"', "date: 2022-06-01 10:00:00 +0800", "categories: files") + EXT_BODY)
post("_posts/2022-06-01-ext-html.html",
     fm('title: "Extension .html"', "date: 2022-06-01 10:00:00 +0800", "categories: files")
     + "<p>An <em>HTML</em> post.</p>\n\n<p>Second paragraph.</p>\n")
post("_posts/2022-06-01-data-file.yml", "title: A YAML data file under _posts\n")
post("_posts/2022-06-02-no-front-matter.md", "A post file with no front matter at all.\n\nSecond paragraph.\n")
post("_posts/2022-06-02-no-front-matter-html.html", "<p>An HTML file with no front matter.</p>\n")
post("_posts/sub/2022-06-03-in-subfolder.md",
     fm('title: "In a subfolder of _posts"', "date: 2022-06-03 10:00:00 +0800") + BODY)
post("_posts/sub/deeper/2022-06-03-two-levels-down.md",
     fm('title: "Two folders down in _posts"', "date: 2022-06-03 10:01:00 +0800") + BODY)
post("_posts/_underscore-dir/2022-06-03-in-underscore-dir.md",
     fm('title: "In an _underscore folder of _posts"', "date: 2022-06-03 10:02:00 +0800") + BODY)
post("_posts/sub/_nested-underscore/2022-06-03-nested-underscore-dir.md",
     fm('title: "In _nested-underscore below a plain folder"', "date: 2022-06-03 10:03:00 +0800") + BODY)
post("_posts/.dotdir/2022-06-03-in-dot-dir.md",
     fm('title: "In a .dot folder of _posts"', "date: 2022-06-03 10:04:00 +0800") + BODY)
post("news/_posts/2022-06-04-dir-category.md",
     fm('title: "Under news/_posts"', "date: 2022-06-04 10:00:00 +0800", "categories: [extra]") + BODY)
post("world/asia/_posts/2022-06-04-two-dir-categories.md",
     fm('title: "Under world/asia/_posts"', "date: 2022-06-04 10:01:00 +0800", "categories: asia local") + BODY)
post("news/_posts/sub/2022-06-04-dir-category-subfolder.md",
     fm('title: "Under news/_posts/sub"', "date: 2022-06-04 10:02:00 +0800") + BODY)
post("_hidden/_posts/2022-06-04-under-underscore-parent.md",
     fm('title: "Under _hidden/_posts"', "date: 2022-06-04 10:03:00 +0800") + BODY)
post("_drafts/2022-06-05-a-draft.md", fm('title: "A draft"', "date: 2022-06-05 10:00:00 +0800") + BODY)
post("_drafts/undated-draft.md", fm('title: "An undated draft"') + BODY)
post("_posts/2022-06-05-backup.md~", fm('title: "Backup file ending in ~"') + BODY)
post("_posts/2022-06-05-tilde~inside.md", fm('title: "Tilde inside the name"',
                                              "date: 2022-06-05 10:00:00 +0800") + BODY)
post("_posts/.2022-06-05-dot-file.md", fm('title: "Dot file"') + BODY)
post("_posts/#2022-06-05-hash-file.md", fm('title: "Hash-prefixed file"') + BODY)
post("_posts/_2022-06-05-underscore-file.md", fm('title: "Underscore-prefixed file"') + BODY)
post("_posts/no-date-prefix.md", fm('title: "No date prefix"', "date: 2022-06-05 10:00:00 +0800") + BODY)
post("_posts/2022-6-6-single-digit-month-day.md", fm('title: "Single-digit month and day"') + BODY)
post("_posts/22-06-06-two-digit-year.md", fm('title: "Two-digit year in the file name"') + BODY)
post("_posts/2022-06-06-.md", fm('title: "Empty slug"', "date: 2022-06-06 10:00:00 +0800") + BODY)
post("_posts/2022-06-07-unpublished.md", fm('title: "Unpublished"', "published: false") + BODY)
post("_posts/2022-06-07-published-string-false.md",  # "false" as a string is not false
     fm('title: "published: \\"false\\" (a string)"', 'published: "false"',
        "date: 2022-06-07 10:00:00 +0800") + BODY)
post("_posts/2022-06-07-crlf-line-ends.md",
     (fm('title: "CRLF line ends"', "date: 2022-06-07 11:00:00 +0800") + BODY).replace("\n", "\r\n"))
post("_posts/2022-06-07-utf8-bom.md",
     "\ufeff" + fm('title: "UTF-8 with BOM"', "date: 2022-06-07 12:00:00 +0800") + BODY)
post("_posts/2022-06-07-dots-close-front-matter.md",
     "---\ntitle: \"Front matter closed by ...\"\ndate: 2022-06-07 13:00:00 +0800\n...\n" + BODY)
post("_posts/2022-06-07-gb18030.md",
     (fm('title: "GB18030 编码"', "date: 2022-06-07 14:00:00 +0800") + ZH_BODY).encode("gb18030"))
post("_posts/2022-06-07-broken-yaml.md",
     "---\ntitle: \"Broken YAML\ndate: [2022-06-07\n---\n" + BODY)
post("_posts/2022-06-07-unclosed-front-matter.md",  # opens with --- and never closes
     "---\ntitle: \"Front matter never closed\"\ndate: 2022-06-07 15:00:00 +0800\n\n" + BODY)
post("vendor/_posts/2022-06-08-under-vendor.md",  # Jekyll excludes vendor/bundle/ etc., not vendor/
     fm('title: "Under vendor/_posts"', "date: 2022-06-08 11:00:00 +0800") + BODY)
post("node_modules/_posts/2022-06-08-under-node-modules.md",
     fm('title: "Under node_modules/_posts"', "date: 2022-06-08 12:00:00 +0800") + BODY)
post("_posts/defaults/2022-06-08-front-matter-defaults.md",
     fm('title: "Front matter defaults apply here"', "date: 2022-06-08 10:00:00 +0800") + BODY)

# ---- (c) URLs and slugs ---------------------------------------------------------------------
post("_posts/2009-03-12-hash-#1.markdown", fm('title: "Hash #1"') + BODY)
post("_posts/2022-07-01-escape-+ %20[].md",
     fm('title: "Escape + %20 []"', "date: 2022-07-01 10:00:00 +0800") + BODY)
post("_posts/2022-07-02-trailing-dots....md",
     fm('title: "Trailing dots"', "date: 2022-07-02 10:00:00 +0800") + BODY)
post("_posts/2022-07-03-中文标题.md",
     fm('title: "中文文件名"', "date: 2022-07-03 10:00:00 +0800", "categories: 新闻 国际") + ZH_BODY)
post("_posts/2022-07-04-has spaces in name.md",
     fm('title: "Spaces in the file name"', "date: 2022-07-04 10:00:00 +0800") + BODY)
post("_posts/2022-07-05-MixedCase-Name.md",
     fm("date: 2022-07-05 10:00:00 +0800") + BODY)  # no title: titleized slug; case kept in URL?
post("_posts/2022-07-06-dotdot-categories.md",
     fm('title: "../ in categories"', "date: 2022-07-06 10:00:00 +0800",
        'categories: ["../../etc", "a/b", "Upper Case"]') + BODY)
post("_posts/2022-07-07-slug-override.md",
     fm('title: "slug in front matter"', "date: 2022-07-07 10:00:00 +0800", 'slug: "Custom Slug, Here!"')
     + BODY)
post("_posts/2022-07-08-punctuation_and.dots!.md",
     fm('title: "Punctuation, underscore, dots and !"', "date: 2022-07-08 10:00:00 +0800") + BODY)

PERMALINKS = [
    # (slug, permalink front matter value, category)
    ("pl-date-pattern", "/:categories/:year/:month/:day/:title:output_ext", "pl"),
    ("pl-pretty-pattern", "/:categories/:year/:month/:day/:title/", "pl"),
    ("pl-ordinal-pattern", "/:categories/:year/:y_day/:title:output_ext", "pl"),
    ("pl-weekdate-pattern", "/:categories/:year/W:week/:short_day/:title:output_ext", "pl"),
    ("pl-none-pattern", "/:categories/:title:output_ext", "pl"),
    ("pl-every-placeholder",
     "/:categories/:year/:short_year/:month/:i_month/:day/:i_day/:y_day/:hour-:minute-:second/:title-:slug:output_ext",
     "pl Two"),
    ("pl-month-underscore", "/:year/:month_:day/:title", "pl"),
    ("pl-more-placeholders", "/:short_month/:long_month/:week/:w_year/:w_day/:long_day/:name/:slugified_categories/",
     "pl Mixed"),
    ("pl-literal", "/custom/literal-path.html", "pl"),
    ("pl-no-leading-slash", "no-leading-slash/:title/", "pl"),
    ("pl-style-name-pretty", "pretty", "pl"),
    ("pl-style-name-date", "date", "pl"),
    ("pl-with-ext-json", "/api/:title.json", "pl"),
]
for i, (slug, pattern, cats) in enumerate(PERMALINKS):
    post(f"_posts/2022-07-{10 + i:02d}-{slug}.md",
         fm(f'title: "Permalink {pattern}"', f"date: 2022-07-{10 + i:02d} 21:{i:02d}:07 +0800",
            f'permalink: "{pattern}"', f"categories: {cats}") + BODY)

# ---- (d) Liquid in bodies -------------------------------------------------------------------
post("_posts/2022-08-01-liquid-variables.md",
     fm('title: "Liquid variables"', "date: 2022-08-01 10:00:00 +0800")
     + "Site: {{ site.title }}. Page: {{ page.title }}. URL: {{ page.url }}.\n\n"
     + "{% include note.html %}\n\n{% include note.html text=\"with a parameter\" %}\n")
post("_posts/2022-08-02-liquid-highlight-raw.md",
     fm('title: "Highlight and raw"', "date: 2022-08-02 10:00:00 +0800")
     + "Code follows.\n\n{% highlight python %}\ndef f(x):\n    return x * 2  # double\n{% endhighlight %}\n\n"
     + "{% raw %}Kept literally: {{ site.title }} and {% if %}{% endraw %}\n\n"
     + "```ruby\nputs 'fenced'\n```\n")
post("_posts/2022-08-03-liquid-links.md",
     fm('title: "link and post_url"', "date: 2022-08-03 10:00:00 +0800")
     + "See [the offset post]({% link _posts/2022-05-12-offset-plus0800.md %}) and "
     + "[the same by post_url]({% post_url 2022-05-12-offset-plus0800 %}).\n\n"
     + "Relative: {{ '/about/' | relative_url }}; absolute: {{ '/about/' | absolute_url }}.\n")
post("_posts/2022-08-04-liquid-control-flow.md",
     fm('title: "assign capture if unless for case"', "date: 2022-08-04 10:00:00 +0800",
        "tags: [liquid, flow]")
     + "{% assign n = 3 %}{% capture greeting %}Hello {{ n }} times{% endcapture %}{{ greeting }}.\n\n"
     + "{% if n > 2 %}Big.{% else %}Small.{% endif %} {% unless n == 3 %}Not three.{% endunless %}\n\n"
     + "{% for t in page.tags %}[{{ t }}]{% endfor %} {% for i in (1..3) %}{{ i }}{% endfor %}\n\n"
     + "{% case n %}{% when 3 %}Three.{% else %}Other.{% endcase %}\n")
post("_posts/2022-08-05-liquid-filters.md",
     fm('title: "Filters"', "date: 2022-08-05 10:00:00 +0800", "tags: [filters]")
     + "xmlschema: {{ page.date | date_to_xmlschema }}; string: {{ page.date | date_to_string }}.\n\n"
     + "escaped: {{ '<a & b>' | xml_escape }}; smart: {{ '\"quoted\" -- and...' | smartify }}.\n\n"
     + "slug: {{ 'Hello, World & 东方' | slugify }}; words: {{ 'one two three 四五' | number_of_words }}.\n\n"
     + "md: {{ '*inline*' | markdownify }}\n\n"
     + "json: {{ page.tags | jsonify }}; count: {{ site.posts | where: 'title', 'Filters' | size }}.\n")
post("_posts/2022-08-06-render-with-liquid-false.md",
     fm('title: "render_with_liquid: false"', "date: 2022-08-06 10:00:00 +0800", "render_with_liquid: false")
     + "This shows {{ site.title }} and {% include note.html %} literally.\n")
post("_posts/2022-08-07-liquid-undefined-variable.md",
     fm('title: "Undefined variable and filter"', "date: 2022-08-07 10:00:00 +0800")
     + "Missing: [{{ page.nothing_here }}] [{{ 'x' | no_such_filter }}].\n")
post("_posts/2022-08-08-liquid-in-html-post.html",
     fm('title: "Liquid in an .html post"', "date: 2022-08-08 10:00:00 +0800")
     + "<p>Site: {{ site.title | xml_escape }}</p>\n\n<p>Second.</p>\n")

# ---- (e) excerpts and titles ----------------------------------------------------------------
post("_posts/2022-09-01-excerpt-separator-post.md",
     fm('title: "Post excerpt_separator"', "date: 2022-09-01 10:00:00 +0800", 'excerpt_separator: "<!--more-->"')
     + "First part,\nstill first part.\n\nAlso before the mark.\n<!--more-->\nAfter the mark.\n")
post("_posts/2022-09-02-excerpt-front-matter.md",
     fm('title: "excerpt in front matter"', "date: 2022-09-02 10:00:00 +0800",
        'excerpt: "A *custom* excerpt & more"') + BODY)
post("_posts/2022-09-03-excerpt-empty.md",
     fm('title: "Empty excerpt"', "date: 2022-09-03 10:00:00 +0800", 'excerpt: ""') + BODY)
post("_posts/2022-09-04-description.md",
     fm('title: "description in front matter"', "date: 2022-09-04 10:00:00 +0800",
        'description: "The <em>description</em> wins"', 'excerpt: "Not this excerpt"') + BODY)
post("_posts/2022-09-05-feed-excerpt-only.md",
     fm('title: "feed: excerpt_only: true"', "date: 2022-09-05 10:00:00 +0800", "feed:",
        "  excerpt_only: true") + BODY)
post("_posts/2022-09-06-top-level-excerpt-only.md",  # feedsvc's own key; jekyll-feed does not read it
     fm('title: "Top-level excerpt_only: true"', "date: 2022-09-06 10:00:00 +0800", "excerpt_only: true") + BODY)
post("_posts/2022-09-07-sparkling.md",
     fm("title: \"<span>Sparkling</span> Title\"", "date: 2022-09-07 10:00:00 +0800") + BODY)
post("_posts/2022-09-08-smart-typography.md",
     fm("title: '\"Quotes\" and ''single'' -- en --- em ... ellipsis'", "date: 2022-09-08 10:00:00 +0800")
     + "\"Quotes\" and 'single' -- en --- em ... ellipsis, in the body too.\n\nSecond.\n")
post("_posts/2022-09-09-ampersand-title.md",
     fm('title: "AT&T &amp; a < b > c"', "date: 2022-09-09 10:00:00 +0800") + BODY)
post("_posts/2022-09-10-empty-title.md",
     fm('title: ""', "date: 2022-09-10 10:00:00 +0800") + BODY)
post("_posts/2022-09-11-numeric-title.md", fm("title: 2022", "date: 2022-09-11 10:00:00 +0800") + BODY)
post("_posts/2022-09-12-heading-first.md",
     fm('title: "Heading first"', "date: 2022-09-12 10:00:00 +0800")
     + "## A heading\n\nThen a paragraph.\n\nAnd another.\n")
post("_posts/2022-09-13-link-reference.md",
     fm('title: "Reference links in the excerpt"', "date: 2022-09-13 10:00:00 +0800")
     + "First paragraph with [a reference][ref].\n\nSecond paragraph.\n\n[ref]: https://example.org/ref\n")
post("_posts/2022-09-14-liquid-block-across-excerpt.md",
     fm('title: "Liquid block across the excerpt break"', "date: 2022-09-14 10:00:00 +0800")
     + "{% if true %}Inside the if.\n\nStill inside the if.{% endif %}\n\nAfter.\n")
post("_posts/2022-09-15-html-one-line.md",  # the news site's shape, one long HTML line
     fm('title: "HTML paragraphs on one line"', "date: 2022-09-15 10:00:00 +0800")
     + "<p>First HTML paragraph.</p><p><strong>Bold</strong> second.</p><p class=\"em_media\">(source)</p>\n\n"
     + "<http://source.example.org/a?b=1&c=2>\n\n[Back](//news.example.com/category/x.html)｜[Home](//news.example.com/)\n")
post("_posts/2022-09-16-gfm-table.md",
     fm('title: "GFM table, strikethrough, autolink"', "date: 2022-09-16 10:00:00 +0800")
     + "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~struck~~ and www.example.com and https://example.com/x\n")
post("_posts/2022-09-17-kramdown-ial.md",
     fm('title: "kramdown attribute lists and footnotes"', "date: 2022-09-17 10:00:00 +0800")
     + "A paragraph with a class.\n{: .lead}\n\nText with a footnote.[^1]\n\n[^1]: The footnote.\n")

# ---- (f) authors ----------------------------------------------------------------------------
post("_posts/2022-10-01-author-string.md",
     fm('title: "Author as a string"', "date: 2022-10-01 10:00:00 +0800", "author: Jane Doe") + BODY)
post("_posts/2022-10-02-author-data-file.md",
     fm('title: "Author from _data/authors.yml"', "date: 2022-10-02 10:00:00 +0800", "author: alice") + BODY)
post("_posts/2022-10-03-author-hash.md",
     fm('title: "Author as a hash"', "date: 2022-10-03 10:00:00 +0800", "author:", "  name: Bob Hash",
        "  email: bob@example.com") + BODY)
post("_posts/2022-10-04-authors-list.md",
     fm('title: "authors list"', "date: 2022-10-04 10:00:00 +0800", "authors: [carol, dave]") + BODY)
post("_posts/2022-10-05-site-author.md",
     fm('title: "No author: the site author"', "date: 2022-10-05 10:00:00 +0800") + BODY)
post("_posts/2022-10-06-author-markup.md",
     fm('title: "Author with markup"', "date: 2022-10-06 10:00:00 +0800", 'author: "<b>Eve</b> & Co"') + BODY)

# ---- (g) categories and tags ----------------------------------------------------------------
post("_posts/2022-11-01-categories-string.md",
     fm('title: "categories as a string"', "date: 2022-11-01 10:00:00 +0800", "categories: news World",
        "tags: alpha beta") + BODY)
post("_posts/2022-11-02-categories-list.md",
     fm('title: "categories as a list"', "date: 2022-11-02 10:00:00 +0800", "categories: [news, Big News]",
        "tags: [alpha, two words]") + BODY)
post("_posts/2022-11-03-category-singular.md",
     fm('title: "category singular"', "date: 2022-11-03 10:00:00 +0800", "category: Big News",
        "tag: one tag") + BODY)
post("_posts/2022-11-04-category-and-categories.md",
     fm('title: "category and categories"', "date: 2022-11-04 10:00:00 +0800", "category: solo",
        "categories: [news, extra]", "tag: single-wins", "tags: [ignored, too]") + BODY)
post("_posts/2022-11-05-duplicates.md",
     fm('title: "Duplicate names"', "date: 2022-11-05 10:00:00 +0800", "categories: [news, news, News]",
        "tags: [dup, dup, Dup]") + BODY)
post("_posts/2022-11-06-markup-names.md",
     fm('title: "Names that look like markup"', "date: 2022-11-06 10:00:00 +0800",
        'categories: ["<b>x</b>"]', 'tags: ["<i>y</i>", "a&b"]') + BODY)
post("_posts/2022-11-07-non-ascii-names.md",
     fm('title: "非 ASCII 的分类和标签"', "date: 2022-11-07 10:00:00 +0800", "categories: 东方网新闻",
        "tags: [东方网新闻, 上海]") + ZH_BODY)
post("_posts/2022-11-08-numeric-and-bool-names.md",
     fm('title: "Numbers and booleans as names"', "date: 2022-11-08 10:00:00 +0800",
        "categories: [2022, 3.5, null, yes]", "tags: [\"2022\", \"yes\"]") + BODY)
post("_posts/2022-11-09-empty-names.md",
     fm('title: "Empty categories and tags"', "date: 2022-11-09 10:00:00 +0800", "categories:", "tags: []")
     + BODY)
post("_posts/2022-11-10-skipped-tag.md",
     fm('title: "A tag excluded from tag feeds"', "date: 2022-11-10 10:00:00 +0800", "tags: [skipme, kept_tag]")
     + BODY)
post("_posts/2022-11-11-image-lang.md",
     fm('title: "image and lang"', "date: 2022-11-11 10:00:00 +0800", "lang: en", "image: /img/a.png",
        "tags: [media]") + BODY)
post("_posts/2022-11-12-image-hash.md",
     fm('title: "image as a hash"', "date: 2022-11-12 10:00:00 +0800", "image:", "  path: https://cdn.example.com/b.png",
        "tags: [media]") + BODY)

post("_posts/2022-11-13-front-matter-id.md",  # feedsvc uses a front-matter id; does jekyll-feed?
     fm('title: "id in front matter"', "date: 2022-11-13 10:00:00 +0800",
        "id: urn:uuid:0b5a7c1e-1f3c-4a57-9d2e-6f1f0c2d3e4f") + BODY)

# The news site's shape (its own text: see /work/shared/fixtures/README.md, which asks that the real
# post's text not be copied into the project).
post("_posts/2022-05-11-shi-gong-jing-lian.md",
     fm("layout: post", 'title: "政策解读、复工复产、线上服务……某行业协会搭平台优服务"',
        "date: 2022-05-11 17:16:04 +0800", "categories: dongfangwang", "tags: 东方网新闻")
     + "<p>疫情发生以来，某行业协会积极发挥枢纽作用，会同各成员单位，在线上架起沟通新桥梁。"
     + "据不完全统计，三月下旬以来共举办线上讲座六十余场。</p><p><strong>线上政策解读</strong>"
     + "<strong>帮助企业答疑解惑</strong></p><p>四月以来，协会连续举办了《疫情期间劳动用工热点问题》"
     + "《合同履行常见问题》等讲座九场，线上收听人数均超千人。</p><p class=\"em_media\">（文章来源：示例网）</p>\n\n"
     + "<http://source.example.org/html_News/NewsShare.html?infoCode=NW2022051100001>\n\n"
     + "[返回示例新闻](//news.example.com/category/dongfangwang.html)｜[返回首页](//news.example.com/)")

# ---------------------------------------------------------------------------------------------
# site_utc: timezone UTC, pretty permalinks, /blog baseurl, site-wide feed options.
# ---------------------------------------------------------------------------------------------

UTC_CONFIG = """\
title: UTC Site
description: The same kinds of dates in a site whose zone is UTC.
url: http://utc.example.org
baseurl: /blog
timezone: UTC
permalink: pretty
excerpt_separator: "<!--more-->"
author: Plain String Author
plugins: [jekyll-feed]
feed:
  path: /atom.xml
  excerpt_only: true
  posts_limit: 5
  categories: [dates]
  tags:
    only: [alpha, beta, 東京]
"""
UTC_POSTS: list[tuple[str, str]] = [
    ("_posts/2022-05-12-offset-plus0800.md",
     fm('title: "Offset +0800"', "date: 2022-05-12 23:30:00 +0800", "categories: dates", "tags: alpha") + BODY),
    ("_posts/2022-05-12-unquoted-zoneless.md",
     fm('title: "Unquoted zoneless"', "date: 2022-05-12 23:30:00", "categories: dates", "tags: alpha") + BODY),
    ("_posts/2022-05-12-quoted-zoneless.md",
     fm('title: "Quoted zoneless"', 'date: "2022-05-12 23:30:00"', "categories: dates", "tags: beta") + BODY),
    ("_posts/2022-05-12-date-only.md",
     fm('title: "Date only"', "date: 2022-05-12", "categories: dates") + BODY),
    ("_posts/2022-05-12-no-date.md", fm('title: "No date"', "categories: dates") + BODY),
    ("_posts/2022-05-12-iso-z.md", fm('title: "ISO Z"', "date: 2022-05-12T20:00:00Z", "tags: 東京") + BODY),
    ("_posts/2022-05-13-separator.md",
     fm('title: "Site excerpt_separator"', "date: 2022-05-13 01:00:00 +0800")
     + "Before the mark.\n\nStill before.\n<!--more-->\nAfter the mark.\n"),
    ("_posts/2022-05-13-no-separator.md",  # no <!--more-->: the excerpt is the whole post
     fm('title: "No separator in the post"', "date: 2022-05-13 02:00:00 +0800") + BODY),
    ("_posts/2022-05-14-feed-excerpt-only-false.md",  # post turns excerpt_only off again?
     fm('title: "feed.excerpt_only false in the post"', "date: 2022-05-14 10:00:00 +0800", "feed:",
        "  excerpt_only: false") + BODY),
    ("_posts/2022-05-14-permalink-override.md",
     fm('title: "Own permalink"', "date: 2022-05-14 11:00:00 +0800", "permalink: /:year/:title.html") + BODY),
    ("_posts/2022-05-15-newest.md",
     fm('title: "Newest"', "date: 2022-05-15 10:00:00 +0800", "tags: [alpha, beta]") + BODY),
]

# ---------------------------------------------------------------------------------------------
# site_errors/<case>: one tiny site per case that may stop a Jekyll build.
# ---------------------------------------------------------------------------------------------

ERR_CONFIG = ("title: Error case\nurl: https://err.example.com\ntimezone: Asia/Shanghai\nplugins: [jekyll-feed]\n"
              "feed:\n  tags: true\n")
GOOD = ("_posts/2022-01-01-good.md", fm('title: "A good post"', "date: 2022-01-01 10:00:00 +0800") + BODY)
ERROR_CASES: dict[str, list[tuple[str, str]]] = {
    "liquid_unclosed_if": [GOOD, ("_posts/2022-01-02-bad.md", fm('title: "Unclosed if"') + "{% if x %}never closed\n")],
    "liquid_unknown_tag": [GOOD, ("_posts/2022-01-02-bad.md", fm('title: "Unknown tag"') + "{% frobnicate %}\n")],
    "liquid_bad_variable": [GOOD, ("_posts/2022-01-02-bad.md", fm('title: "Bad variable syntax"') + "{{ foo | }} {{ }}\n")],
    "liquid_missing_include": [GOOD, ("_posts/2022-01-02-bad.md",
                                      fm('title: "Missing include"') + "{% include nope.html %}\n")],
    "bad_front_matter_date": [GOOD, ("_posts/2022-01-02-bad.md", fm('title: "Bad date"', "date: not-a-date") + BODY)],
    "bad_file_name_date": [GOOD, ("_posts/2022-13-45-bad.md", fm('title: "Month 13, day 45"') + BODY)],
    "numeric_tag_with_tag_feeds": [GOOD, ("_posts/2022-01-02-bad.md",
                                          fm('title: "Unquoted numeric and boolean tags"', "tags: [2022, yes, null]")
                                          + BODY)],
    "unknown_permalink_placeholder": [GOOD, ("_posts/2022-01-02-bad.md",
                                             fm('title: "Unknown placeholder"', "permalink: /:foo/:title/") + BODY)],
}


def write(root: Path, files: list[tuple[str, str | bytes]]) -> None:
    for rel, text in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def main() -> int:
    for name in ("site", "site_utc", "site_errors"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    write(HERE / "site", [("_config.yml", MAIN_CONFIG), ("_includes/note.html", INCLUDE_NOTE),
                          ("_layouts/default.html", LAYOUT_DEFAULT), ("_layouts/post.html", LAYOUT_POST),
                          ("_data/authors.yml", AUTHORS)] + MAIN_POSTS)
    write(HERE / "site_utc", [("_config.yml", UTC_CONFIG)] + UTC_POSTS)
    for case, files in ERROR_CASES.items():
        write(HERE / "site_errors" / case, [("_config.yml", ERR_CONFIG)] + files)
    candidates = [p for p, _ in MAIN_POSTS if "_posts/" in p or "_drafts/" in p]
    print(f"site: {len(candidates)} files under _posts/ or _drafts/ folders; "
          f"site_utc: {len(UTC_POSTS)} posts; site_errors: {len(ERROR_CASES)} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
