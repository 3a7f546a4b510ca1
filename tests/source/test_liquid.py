"""Liquid in post bodies, rendered as Jekyll 4.3.1 renders it (feedsvc/source/liquid/).

The expected strings were produced by Jekyll 4.3.1 (Liquid 5.4.0, Rouge 3.30.0, kramdown
2.4.0): ``ruby tests/conformance/jekyll_dump.rb SITE OUT`` on the site :func:`oracle_site`
writes, reading each post's ``content`` in ``OUT/posts.json``. The posts are ``.html`` so that
content is exactly Liquid's output (no Markdown after it). Only where a test says so does
feedsvc differ on purpose.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.cli import main
from feedsvc.config import load_settings
from feedsvc.errors import ContentError
from feedsvc.site import Site
from feedsvc.source import Store

ORACLE_CONFIG = """\
title: "Oracle \\"Site\\" & co"
description: Where Liquid answers come from
url: https://news.example.com
baseurl: /blog
timezone: Asia/Shanghai
custom_key: [1, 2]
nested:
  a: {b: deep}
"""
ORACLE_FILES = {
    "_data/authors.yml": "ann:\n  name: Ann Example\n  posts: 3\n",
    "_data/things.json": '{"k": [1, "two"]}\n',
    "_data/people.csv": "name,age\nann,3\nbob,4\n",
    "assets/plain.txt": "static\n",
    "about.md": "---\ntitle: About\n---\nAbout page\n",
    "_includes/note.html":
        '<aside>{{ include.text | default: "none" }}|{{ include.n }}|{{ include.v }}</aside>\n',
    "_includes/deep/x.html": "<b>deep {{ page.title }}</b>",
    "_includes/nest.html": 'A{% include note.html text="inner" %}B',
    "_includes/assign.html": '{% assign leaked = "yes" %}set',
    "_posts/cases/snippet.txt": "rel:{{ page.title }}",
    "_posts/2022-01-01-target.md":
        "---\ntitle: Target one\ncategory: news\ntags: [a, b]\nauthor: ann\n---\nFirst target.\n",
    "_posts/sub/2022-01-02-sub-target.md": "---\ntitle: Sub target\ntags: b\n---\nSecond.\n",
    "_posts/2022-01-03-no-title.md": "---\nlayout: x\n---\nUntitled.\n",
}
CASE_FRONT = ('---\ntitle: "Case {name}"\ncategories: [News, Extra]\ntags: [x, "y z"]\n'
              "custom: value\nnested: {{x: 1}}\ndate: {day} 10:20:30 +0800\n---\n")

# (case, date, body, what Jekyll 4.3.1 rendered) -- from jekyll_dump.rb, see the docstring.
EXACT = [
    ('pagevars', '2021-01-01',
     '{{ page.date }}|{{ page.title }}|{{ page.url }}|{{ page.id }}|{{ page.path }}|{{ page.slug }}|{{ page.ext }}|{{ page.collection }}|{{ page.name }}|{{ page.draft }}|{{ page.relative_path }}',
     '2021-01-01 10:20:30 +0800|Case pagevars|/news/extra/2021/01/01/pagevars.html|/news/extra/2021/01/01/pagevars|_posts/cases/2021-01-01-pagevars.html|pagevars|.html|posts|2021-01-01-pagevars.html|false|_posts/cases/2021-01-01-pagevars.html'),
    ('pagelists', '2021-01-02',
     '{{ page.categories }}|{{ page.tags }}|{{ page.categories | size }}|{{ page.custom }}|{{ page.nested.x }}|{{ page.layout }}',
     'NewsExtra|xy z|2|value|1|'),
    ('pageexcerpt', '2021-01-03',
     'First {{ page.title }} para.\n\nSecond.\n\n[{{ page.excerpt }}]',
     'First Case pageexcerpt para.\n\nSecond.\n\n[First Case pageexcerpt para.]'),
    ('sitevars', '2021-01-04',
     '{{ site.title }}|{{ site.url }}|{{ site.baseurl }}|{{ site.description }}|{{ site.timezone }}|{{ site.custom_key }}|{{ site.nested.a.b }}',
     'Oracle "Site" & co|https://news.example.com|/blog|Where Liquid answers come from|Asia/Shanghai|12|deep'),
    ('siteposts', '2021-01-05',
     "{{ site.posts.size }}|{{ site.posts.first.title }}|{{ site.posts.last.title }}|{{ site.categories.news.size }}|{{ site.tags.b.size }}|{{ site.tags.b | map: 'title' | join: ',' }}|{{ site.categories | size }}",
     '49|No Title|Case pagevars|1|2|Sub target,Target one|3'),
    ('sitedata', '2021-01-06',
     '{{ site.data.authors.ann.name }}|{{ site.data.things.k[1] }}|{{ site.data.people[1].name }}|{{ site.data.people | size }}|{{ site.data.people[0].age }}',
     'Ann Example|two|bob|2|3'),
    ('sitedefaults', '2021-01-07',
     '{{ site.permalink }}|{{ site.markdown }}|{{ site.highlighter }}|{{ site.excerpt_separator | size }}|{{ site.lang }}|{{ site.future }}|{{ site.safe }}|{{ site.encoding }}|{{ site.collections | size }}|{{ site.markdown_ext }}',
     'date|kramdown|rouge|2||false|false|utf-8|1|markdown,mkdown,mkdn,mkd,md'),
    ('relurl', '2021-01-08',
     "{{ '/about/' | relative_url }}|{{ 'about' | relative_url }}|{{ '' | relative_url }}|{{ 'https://x.com/a' | relative_url }}|{{ '/新闻/a b' | relative_url }}|{{ nil | relative_url }}|{{ '//cdn.x/y' | relative_url }}|{{ '/a?b=c#d' | relative_url }}|{{ '/a%20b' | relative_url }}|{{ 'mailto:x@y' | relative_url }}|{{ '/a/../b' | relative_url }}",
     '/blog/about/|/blog/about|/blog|https://x.com/a|/blog/%E6%96%B0%E9%97%BB/a%20b||/blog//cdn.x/y|/blog/a?b=c#d|/blog/a%20b|mailto:x@y|/blog/b'),
    ('absurl', '2021-01-09',
     "{{ '/about/' | absolute_url }}|{{ 'about' | absolute_url }}|{{ '' | absolute_url }}|{{ 'https://x.com/a' | absolute_url }}|{{ '/新闻/a b' | absolute_url }}|{{ page.url | absolute_url }}|{{ '/a%20b' | absolute_url }}|{{ nil | absolute_url }}|{{ '//cdn.x/y' | absolute_url }}",
     'https://news.example.com/blog/about/|https://news.example.com/blog/about|https://news.example.com/blog|https://x.com/a|https://news.example.com/blog/%E6%96%B0%E9%97%BB/a%20b|https://news.example.com/blog/news/extra/2021/01/09/absurl.html|https://news.example.com/blog/a%20b||https://news.example.com/blog//cdn.x/y'),
    ('dates1', '2021-01-10',
     "{{ page.date | date_to_xmlschema }}|{{ '2022-01-02' | date_to_xmlschema }}|{{ '2022-01-02 03:04:05 +0100' | date_to_xmlschema }}|{{ '' | date_to_xmlschema }}|{{ nil | date_to_xmlschema }}|{{ page.date | date_to_rfc822 }}|{{ '2022-01-02 03:04:05 +0100' | date_to_rfc822 }}|{{ 1700000000 | date_to_xmlschema }}|{{ '1700000000' | date_to_xmlschema }}",
     '2021-01-10T10:20:30+08:00|2022-01-02T00:00:00+08:00|2022-01-02T10:04:05+08:00|||Sun, 10 Jan 2021 10:20:30 +0800|Sun, 02 Jan 2022 10:04:05 +0800|2023-11-15T06:13:20+08:00|2023-11-15T06:13:20+08:00'),
    ('dates2', '2021-01-11',
     "{{ page.date | date_to_string }}|{{ page.date | date_to_string: 'ordinal' }}|{{ page.date | date_to_string: 'ordinal', 'US' }}|{{ '2022-03-22' | date_to_string: 'ordinal' }}|{{ '2022-03-11' | date_to_string: 'ordinal', 'US' }}|{{ '2022-03-02' | date_to_string: 'x', 'US' }}",
     '11 Jan 2021|11th Jan 2021|Jan 11th, 2021|22nd Mar 2022|Mar 11th, 2022|02 Mar 2022'),
    ('dates3', '2021-01-12',
     "{{ page.date | date_to_long_string }}|{{ page.date | date_to_long_string: 'ordinal' }}|{{ page.date | date_to_long_string: 'ordinal', 'US' }}|{{ '2022-03-03' | date_to_long_string: 'ordinal' }}|{{ '2022-03-13' | date_to_long_string: 'ordinal' }}",
     '12 January 2021|12th January 2021|January 12th, 2021|3rd March 2022|13th March 2022'),
    ('xmlescape', '2021-01-13',
     '{% capture s %}<a href="x">\'&\'</a> é{% endcapture %}{{ s | xml_escape }}|{{ nil | xml_escape }}|{{ 5 | xml_escape }}|{{ \'&amp;\' | xml_escape }}',
     '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt; é||5|&amp;amp;'),
    ('cgiescape', '2021-01-14',
     "{% capture s %}foo,bar;baz? é+ ~*'()/{% endcapture %}{{ s | cgi_escape }}|{{ 'a b' | cgi_escape }}",
     'foo%2Cbar%3Bbaz%3F+%C3%A9%2B+~%2A%27%28%29%2F|a+b'),
    ('uriescape', '2021-01-15',
     '{% capture s %}foo, bar \\baz? é [x] %20 |^`"<>#&=+\'{% endcapture %}{{ s | uri_escape }}|{{ \'a%2Fb\' | uri_escape }}|{{ \'%zz\' | uri_escape }}',
     "foo,%20bar%20%5Cbaz?%20%C3%A9%20[x]%20%20%20%7C%5E%60%22%3C%3E#&=+'|a/b|%25zz"),
    ('smartify1', '2021-01-17',
     '{% capture s %}"quoted" -- and... \'single\' it\'s "a" --- <<x>> &amp; & <b>"t"</b> 1980\'s \'90s{% endcapture %}{{ s | smartify }}',
     '“quoted” – and… ‘single’ it’s “a” — «x» &amp; &amp; <b>“t”</b> 1980’s ’90s'),
    ('smartify2', '2021-01-18',
     '{% capture s %}He said "it\'s \'nested\'" ... a < b > c &copy; &#169; &bogus; x--y 5\'10" ("p") ["b"] "*em*"{% endcapture %}{{ s | smartify }}|{{ nil | smartify }}|{{ \'a\nb\' | smartify }}',
     'He said “it’s ‘nested’” … a &lt; b &gt; c © © &amp;bogus; x–y 5’10” (“p”) [“b”] “*em*”||a\nb'),
    ('smartify3', '2021-01-19',
     '{% capture s %}<<a>> << b >> \\<< \'tis "x"y \'a\' "" \'\' x\' "y{% endcapture %}{{ s | smartify }}',
     '«a» «\xa0b\xa0» &lt;&lt; ‘tis “x”y ‘a’ “” ‘’ x’ “y'),
    ('slugify', '2021-01-20',
     "{{ 'Hello, World & 东方' | slugify }}|{{ 'Ünïcödé Café ß Ærø _x_ a.b~c (d)' | slugify: 'raw' }}|{{ 'Ünïcödé Café ß Ærø _x_ a.b~c (d)' | slugify: 'default' }}|{{ 'Ünïcödé Café ß Ærø _x_ a.b~c (d)' | slugify: 'pretty' }}|{{ 'Ünïcödé Café ß Ærø _x_ a.b~c (d)' | slugify: 'ascii' }}|{{ 'Ünïcödé Café ß Ærø _x_ a.b~c (d) 东' | slugify: 'latin' }}|{{ 'Ab  C' | slugify: 'none' }}|{{ 'Ab C' | slugify: 'bogus' }}|{{ '--x--' | slugify }}|{{ nil | slugify }}|{{ 'Ab. C!' | slugify: 'pretty' }}|{{ 'ŁódźŒœøÞþðĐ' | slugify: 'latin' }}",
     'hello-world-东方|ünïcödé-café-ß-ærø-_x_-a.b~c-(d)|ünïcödé-café-ß-ærø-x-a-b-c-d|ünïcödé-café-ß-ærø-_x_-a.b~c-(d)|n-c-d-caf-r-x-a-b-c-d|unicode-cafe-ss-aero-x-a-b-c-d|ab  c|ab c|x||ab.-c!|lodzoeoeoththdd'),
    ('where', '2021-01-21',
     "{{ site.posts | where: 'title', 'Target one' | map: 'title' | join: ',' }}|{{ site.posts | where: 'tags', 'b' | size }}|{{ site.posts | where: 'category', 'news' | size }}|{{ site.posts | where: 'nothing', nil | size }}|{{ site.posts | where: 'author', 'ann' | size }}|{{ site.posts | where: 'categories', 'news' | size }}|{{ site.data.people | where: 'age', 3 | map: 'name' }}",
     'Target one|2|1|49|1|1|ann'),
    ('whereexp', '2021-01-22',
     '{{ site.posts | where_exp: \'p\', \'p.title contains "target"\' | map: \'title\' | join: \',\' }}|{{ site.posts | where_exp: \'p\', \'p.tags contains "a"\' | size }}|{{ site.posts | where_exp: \'p\', \'p.title == "Sub target" or p.title == "Target one"\' | size }}|{{ site.data.people | where_exp: \'x\', \'x.age > "3"\' | size }}',
     'Sub target|1|2|1'),
    ('groupby', '2021-01-23',
     "{% assign g = site.data.people | group_by: 'age' %}{% for x in g %}[{{ x.name }}:{{ x.size }}:{{ x.items | map: 'name' | join: '' }}]{% endfor %}|{{ g | size }}|{% assign g2 = site.posts | group_by: 'author' %}{% for x in g2 %}[{{ x.name }}:{{ x.size }}]{% endfor %}",
     '[3:1:ann][4:1:bob]|2|[:48][ann:1]'),
    ('groupbyexp', '2021-01-24',
     "{% assign gx = site.data.people | group_by_exp: 'p', 'p.name | size' %}{% for x in gx %}[{{ x.name }}:{{ x.size }}]{% endfor %}",
     '[3:2]'),
    ('sort', '2021-01-25',
     "{% assign arr = 'b,a,C,10,9' | split: ',' %}{{ arr | sort | join: ',' }}|{{ site.data.people | sort: 'name' | map: 'name' | join: ',' }}|{{ site.posts | sort: 'author', 'last' | map: 'slug' | join: ',' }}|{{ site.posts | sort: 'author' | map: 'slug' | join: ',' }}|{{ site.posts | sort: 'title' | map: 'slug' | join: ',' }}",
     '10,9,C,a,b|ann,bob|target,no-title,sub-target,types,lax,pagenav,timevars,hl5,hl4,hl3,hl2,hl1,comment,posturl,link,includerel,include2,include1,misc,inspect,normws,sentence,words,jsonify,sort,groupbyexp,groupby,whereexp,where,slugify,smartify3,smartify2,smartify1,markdownify,uriescape,cgiescape,xmlescape,dates3,dates2,dates1,absurl,relurl,sitedefaults,sitedata,siteposts,sitevars,pageexcerpt,pagelists,pagevars|no-title,sub-target,types,lax,pagenav,timevars,hl5,hl4,hl3,hl2,hl1,comment,posturl,link,includerel,include2,include1,misc,inspect,normws,sentence,words,jsonify,sort,groupbyexp,groupby,whereexp,where,slugify,smartify3,smartify2,smartify1,markdownify,uriescape,cgiescape,xmlescape,dates3,dates2,dates1,absurl,relurl,sitedefaults,sitedata,siteposts,sitevars,pageexcerpt,pagelists,pagevars,target|absurl,cgiescape,comment,dates1,dates2,dates3,groupby,groupbyexp,hl1,hl2,hl3,hl4,hl5,include1,include2,includerel,inspect,jsonify,lax,link,markdownify,misc,normws,pageexcerpt,pagelists,pagenav,pagevars,posturl,relurl,sentence,sitedata,sitedefaults,siteposts,sitevars,slugify,smartify1,smartify2,smartify3,sort,timevars,types,uriescape,where,whereexp,words,xmlescape,no-title,sub-target,target'),
    ('jsonify', '2021-01-26',
     '{% capture s %}a"b\\c/é<\t{% endcapture %}{{ page.tags | jsonify }}|{{ s | jsonify }}|{{ 5 | jsonify }}|{{ nil | jsonify }}|{{ site.data.authors | jsonify }}|{{ site.custom_key | jsonify }}|{{ true | jsonify }}|{{ 1.5 | jsonify }}|{{ page.nested | jsonify }}|{{ site.data.people | jsonify }}',
     '["x","y z"]|"a\\"b\\\\c/é<\\t"|5|null|{"ann":{"name":"Ann Example","posts":3}}|[1,2]|true|1.5|{"x":1}|[{"name":"ann","age":"3"},{"name":"bob","age":"4"}]'),
    ('words', '2021-01-27',
     "{{ 'one two three 四五' | number_of_words }}|{{ 'one two 四五 六' | number_of_words: 'cjk' }}|{{ 'one two 四五' | number_of_words: 'auto' }}|{{ 'one two' | number_of_words: 'auto' }}|{{ '' | number_of_words }}",
     '4|5|4|2|0'),
    ('sentence', '2021-01-28',
     "{% assign one = 'a' | split: ',' %}{% assign two = 'a,b' | split: ',' %}{% assign three = 'a,b,c' | split: ',' %}{{ one | array_to_sentence_string }}|{{ two | array_to_sentence_string }}|{{ three | array_to_sentence_string }}|{{ three | array_to_sentence_string: 'or' }}|{{ page.tags | array_to_sentence_string }}",
     'a|a and b|a, b, and c|a, b, or c|x and y z'),
    ('normws', '2021-01-29',
     "{{ ' a\n b\tc ' | normalize_whitespace }}|{{ nil | normalize_whitespace }}",
     'a b c|'),
    ('inspect', '2021-01-30',
     '{% capture s %}<"&>\'{% endcapture %}{{ \'x\' | inspect }}|{{ page.tags | inspect }}|{{ 1 | inspect }}|{{ nil | inspect }}|{{ site.data.authors | inspect }}|{{ s | inspect }}|{{ 1.5 | inspect }}|{{ true | inspect }}|{{ \'é\' | inspect }}',
     '&quot;x&quot;|[&quot;x&quot;, &quot;y z&quot;]|1|nil|{&quot;ann&quot;=&gt;{&quot;name&quot;=&gt;&quot;Ann Example&quot;, &quot;posts&quot;=&gt;3}}|&quot;&lt;\\&quot;&amp;&gt;&apos;&quot;|1.5|true|&quot;é&quot;'),
    ('misc', '2021-01-31',
     '{% assign three = \'a,b,c\' | split: \',\' %}{{ site.data.people | find: \'name\', \'bob\' | map: \'age\' }}|{{ site.data.people | find_exp: \'p\', \'p.name == "ann"\' | map: \'age\' }}|{{ \'5\' | to_integer | plus: 1 }}|{{ true | to_integer }}|{{ three | push: \'d\' | join: \'\' }}|{{ three | pop | join: \'\' }}|{{ three | shift | join: \'\' }}|{{ three | unshift: \'z\' | join: \'\' }}|{{ three | pop: 2 | join: \'\' }}|{{ \'/a/index.html\' | strip_index }}',
     '4|3|6|1|abcd|ab|bc|zabc|a|/a/'),
    ('include1', '2021-02-01',
     '{% include note.html %}|{% include note.html text="param" n=3 v=page.title %}|{% include note.html text=\'sq\' %}|{% include nest.html %}|{% include deep/x.html %}',
     '<aside>none||</aside>\n|<aside>param|3|Case include1</aside>\n|<aside>sq||</aside>\n|A<aside>inner||</aside>\nB|<b>deep Case include1</b>'),
    ('include2', '2021-02-02',
     '{% assign inc = \'note.html\' %}{% include {{ inc }} text="var" %}|{% include assign.html %}{{ leaked }}|{% include note.html text="esc\\"aped" %}',
     '<aside>var||</aside>\n|setyes|<aside>esc"aped||</aside>\n'),
    ('includerel', '2021-02-03',
     '{% include_relative snippet.txt %}',
     'rel:Case includerel'),
    ('link', '2021-02-04',
     "{% link _posts/2022-01-01-target.md %}|{% link _posts/sub/2022-01-02-sub-target.md %}|{% link about.md %}|{% link assets/plain.txt %}|{% assign lp = '_posts/2022-01-01-target.md' %}{% link {{ lp }} %}",
     '/blog/news/2022/01/01/target.html|/blog/2022/01/02/sub-target.html|/blog/about.html|/blog/assets/plain.txt|/blog/news/2022/01/01/target.html'),
    ('posturl', '2021-02-05',
     '{% post_url 2022-01-01-target %}|{% post_url sub/2022-01-02-sub-target %}|{% post_url 2022-01-02-sub-target %}',
     '/blog/news/2022/01/01/target.html|/blog/2022/01/02/sub-target.html|/blog/2022/01/02/sub-target.html'),
    ('comment', '2021-02-06',
     "{% comment %}hidden {{ x }}{% endcomment %}|{% raw %}{{ kept }} {% if %}{% endraw %}|{% # inline %}|{% echo 'e' %}|{% liquid assign q = 2\necho q %}",
     '|{{ kept }} {% if %}||e|2'),
    ('timevars', '2021-02-12',
     "{{ site.time | date: '%Y' | size }}|{{ page.date | date: '%Y-%m-%d %H:%M %z' }}|{{ 'now' | date: '%Y' | size }}|{{ page.date | date: '%a %b %e %-d %j %I %p %Z' }}",
     '4|2021-02-12 10:20 +0800|4|Fri Feb 12 12 043 10 AM CST'),
    ('pagenav', '2021-02-13',
     '{{ page.previous.title }}|{{ page.next.title }}|{{ page.content | size }}',
     'Case timevars|Case lax|73'),
    ('lax', '2021-02-14',
     "{{ nothing }}|{{ 'x' | no_filter }}|{{ page.nothing.deep }}|{{ 10 | divided_by: 4 }}|{{ 10.0 | divided_by: 4 }}|{{ 'abc' | slice: 1 }}|{{ 'a b' | url_encode }}|{{ foo | }}|{{ }}|after",
     '|x||2|2.5|b|a+b|||after'),
    ('types', '2021-02-15',
     '{{ true }}|{{ false }}|{{ nil }}|{{ 1.0 }}|{{ 10 | times: 1.5 }}|{{ site.data.authors.ann }}|{{ site.custom_key }}|{{ page.tags | first }}|{{ (1..3) }}',
     'true|false||1.0|15.0|{"name"=>"Ann Example", "posts"=>3}|12|x|1..3'),
]

# Rouge's token spans are left out on purpose (the feeds carry the text); the rest is equal.
HIGHLIGHT = [
    ('hl1', '2021-02-07',
     '{% highlight python %}\ndef f(x):\n    return x < 2 and "y" & \'z\'  # c\n{% endhighlight %}',
     '<figure class="highlight"><pre><code class="language-python" data-lang="python"><span class="k">def</span> <span class="nf">f</span><span class="p">(</span><span class="n">x</span><span class="p">):</span>\n    <span class="k">return</span> <span class="n">x</span> <span class="o">&lt;</span> <span class="mi">2</span> <span class="ow">and</span> <span class="s">"y"</span> <span class="o">&amp;</span> <span class="s">\'z\'</span>  <span class="c1"># c</span></code></pre></figure>'),
    ('hl2', '2021-02-08',
     '{% highlight ruby linenos %}\na = 1\nb = "<2>"\n{% endhighlight %}',
     '<figure class="highlight"><pre><code class="language-ruby" data-lang="ruby"><table class="rouge-table"><tbody><tr><td class="gutter gl"><pre class="lineno">1\n2\n</pre></td><td class="code"><pre><span class="n">a</span> <span class="o">=</span> <span class="mi">1</span>\n<span class="n">b</span> <span class="o">=</span> <span class="s2">"&lt;2&gt;"</span>\n</pre></td></tr></tbody></table></code></pre></figure>'),
    ('hl3', '2021-02-09',
     '{% highlight nosuchlang %}\n\n  x <&> {{ page.title }}\n\n{% endhighlight %}',
     '<figure class="highlight"><pre><code class="language-nosuchlang" data-lang="nosuchlang">  x &lt;&amp;&gt; Case hl3</code></pre></figure>'),
    ('hl4', '2021-02-10',
     '{% highlight c++ %}int x;{% endhighlight %}|{% highlight text mark_lines="1 2" %}t{% endhighlight %}|{% highlight Python %}x{% endhighlight %}',
     '<figure class="highlight"><pre><code class="language-c--" data-lang="c++"><span class="kt">int</span> <span class="n">x</span><span class="p">;</span></code></pre></figure>|<figure class="highlight"><pre><code class="language-text" data-lang="text">t</code></pre></figure>|<figure class="highlight"><pre><code class="language-python" data-lang="python"><span class="n">x</span></code></pre></figure>'),
    ('hl5', '2021-02-11',
     '{% highlight html %}<p class="a">&amp;</p>\n{% endhighlight %}',
     '<figure class="highlight"><pre><code class="language-html" data-lang="html"><span class="nt">&lt;p</span> <span class="na">class=</span><span class="s">"a"</span><span class="nt">&gt;</span><span class="ni">&amp;amp;</span><span class="nt">&lt;/p&gt;</span></code></pre></figure>'),
]

# cmark-gfm renders markdownify, as it renders every Markdown body of feedsvc; Jekyll's
# kramdown gives '<p><em>a</em> <strong>b</strong> <x> &amp; "q" -- \'x\'</x></p>\n\n<ul>\n
# <li>one</li>\n  <li>two</li>\n</ul>\n|\n|<p>plain</p>\n' (docs/jekyll.md, R8).
MARKDOWNIFY = ("markdownify", "2021-01-16",
               "{% capture s %}*a* **b** <x> & \"q\" -- 'x'\n\n- one\n- two{% endcapture %}"
               "{{ s | markdownify }}|{{ nil | markdownify }}|{{ 'plain' | markdownify }}",
               "<p><em>a</em> <strong>b</strong> <x> &amp; &quot;q&quot; -- 'x'</p>\n<ul>\n"
               "<li>one</li>\n<li>two</li>\n</ul>\n||<p>plain</p>\n")
ALL_CASES = EXACT + HIGHLIGHT + [MARKDOWNIFY]


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def oracle_site(root: Path) -> Path:
    """Write the site the expected strings come from (Jekyll built exactly this)."""
    write_files(root, {"_config.yml": ORACLE_CONFIG, **ORACLE_FILES})
    for name, day, body, _ in ALL_CASES:
        write_files(root, {f"_posts/cases/{day}-{name}.html":
                           CASE_FRONT.format(name=name, day=day) + body})
    return root


def open_store(root: Path) -> Store:
    return Store.from_settings(load_settings({"site_dir": str(root)}, environ={}))


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """Return (store, {case: post}) of the oracle site, loaded once."""
    store = open_store(oracle_site(tmp_path_factory.mktemp("oracle") / "site"))
    snapshot = store.reload()
    assert snapshot.errors == ()
    posts = {p.path.rsplit("/", 1)[1][11:-5]: p for p in snapshot.posts if "/cases/" in p.path}
    return store, posts


@pytest.mark.parametrize("name,day,body,expected", EXACT, ids=[c[0] for c in EXACT])
def test_tags_filters_and_payload_render_as_jekyll_renders_them(oracle, name, day, body, expected):
    store, posts = oracle
    assert store.body_of(posts[name]) == expected


def _without_spans(html: str) -> str:
    return re.sub(r"</?span[^>]*>", "", html)


@pytest.mark.parametrize("name,day,body,expected", HIGHLIGHT, ids=[c[0] for c in HIGHLIGHT])
def test_highlight_has_jekylls_markup_and_escaping_without_rouge_token_spans(
        oracle, name, day, body, expected):
    store, posts = oracle
    got = store.body_of(posts[name])
    assert "<span" not in got
    assert got == _without_spans(expected)


def test_markdownify_renders_with_cmark_gfm_as_feedsvc_bodies_do(oracle):
    store, posts = oracle
    assert store.body_of(posts["markdownify"]) == MARKDOWNIFY[3]


def test_the_oracle_notes_are_jekylls_warnings(oracle):
    store, posts = oracle
    for name in ("posturl", "lax"):
        store.body_of(posts[name])
    notes = [(n.path.rsplit("/", 1)[1], n.line, n.kind) for n in store.liquid.report()]
    # Jekyll: a Deprecation for '{% post_url 2022-01-02-sub-target %}' (no folder given), and
    # 'Liquid Warning: ... Expected id but found end_of_string in "{{ foo | }}"'.
    assert ("2021-02-05-posturl.html", 9, "warning") in notes
    assert ("2021-02-14-lax.html", 9, "warning") in notes


# --- when Liquid runs, and when it does not ------------------------------------------------------
@pytest.fixture
def count_liquid(monkeypatch):
    """Count the engine's work: parses at load time (through the name load_post calls) and
    renders (LiquidRenderer.render, which every body_of with Liquid goes through)."""
    import feedsvc.source.liquid.render as render_module
    import feedsvc.source.posts as posts
    calls = {"parse": 0, "render": 0}
    check, render = posts.check_liquid, render_module.LiquidRenderer.render

    def counted_check(*args):
        calls["parse"] += 1
        return check(*args)

    def counted_render(self, *args):
        calls["render"] += 1
        return render(self, *args)
    monkeypatch.setattr(posts, "check_liquid", counted_check)
    monkeypatch.setattr(render_module.LiquidRenderer, "render", counted_render)
    return calls


def test_a_body_without_liquid_never_reaches_the_engine(site_dir, write_post, count_liquid):
    write_post("plain", body="Braces { alone } and 100% are not Liquid.\n")
    store = open_store(site_dir)
    post, = store.reload().posts
    assert store.body_of(post) == "Braces { alone } and 100% are not Liquid.\n"
    assert count_liquid == {"parse": 0, "render": 0}
    write_post("liquid", date="2022-05-12 10:00:00 +0800", body="{{ page.title }}\n")
    snapshot = store.reload()
    store.body_of(snapshot.posts[0])
    # the counters do count: parsed when loaded and when body_of reads the file again
    assert count_liquid == {"parse": 2, "render": 1}


def test_loading_a_site_without_liquid_does_not_import_python_liquid(site_dir, write_post):
    write_post("plain", body="No templates here.\n")
    code = ("import sys; from feedsvc.config import load_settings; from feedsvc.site import Site;"
            f"Site(load_settings({{'site_dir': {str(site_dir)!r}, 'auto_reload': False}},"
            " environ={})).reload(); print('liquid' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                            check=True)
    assert result.stdout.strip() == "False"


def test_render_with_liquid_false_keeps_the_liquid_as_text(site_dir, write_post, count_liquid):
    write_post("raw", body="Shows {{ site.title }} and {% include nothing.html %}.\n",
               extra="render_with_liquid: false")
    store = open_store(site_dir)
    snapshot = store.reload()
    assert snapshot.errors == ()   # the missing include is not parsed, so not an error
    assert store.body_of(snapshot.posts[0]) == "Shows {{ site.title }} and {% include nothing.html %}.\n"
    assert count_liquid == {"parse": 0, "render": 0}


def test_liquid_runs_in_html_posts_too(site_dir, write_post):
    write_post("page", title="Hi", body="<p>{{ page.title | upcase }}</p>\n")
    path = site_dir / "_posts" / "2022-05-11-page.md"
    path.rename(path.with_suffix(".html"))
    store = open_store(site_dir)
    assert store.body_of(store.reload().posts[0]) == "<p>HI</p>\n"


# --- a template that does not parse: a broken post, with its line --------------------------------
# Jekyll 4.3.1 stops the build on each of these bodies, with these messages (checked with
# jekyll_dump.rb on a one-post site each; Jekyll counts lines from the body, feedsvc from the
# file, and names the includes folder in its own words).
@pytest.mark.parametrize("body,line,reason", [
    ("Fine.\n\n{% if x %}never closed\n", 9,
     "Liquid syntax error: 'if' tag was never closed"),
    ("{% frobnicate %}\n", 7, "Liquid syntax error: Unknown tag 'frobnicate'"),
    ("a\n{% include nope.html %}\n", 8,
     "Liquid: Could not locate the included file 'nope.html' in _includes/"),
    ("{% for x in y %}{% endif %}{% endfor %}\n", 7,
     "Liquid syntax error: 'endif' is not a valid delimiter for for tags. use endfor"),
    ("{% else %}\n", 7, "Liquid syntax error: Unexpected outer 'else' tag"),
    ("x\n{{ unterminated\n", 8,
     "Liquid syntax error: Variable '{{' was not properly terminated with regexp: /\\}\\}/"),
    ("{{ 'a}' }}\n", 7, "Liquid syntax error: Variable '{{ 'a}' was not properly terminated "
                        "with regexp: /\\}\\}/"),
    ("{% raw %}never closed\n", 7, "Liquid syntax error: 'raw' tag was never closed"),
    ("{% capture x %}{% else %}{% endcapture %}\n", 7,
     "Liquid syntax error: capture tag does not expect 'else' tag"),
    ("{% highlight %}x{% endhighlight %}\n", 7,
     "Liquid syntax error: Syntax Error in tag 'highlight' while parsing the following markup: "
     " (valid syntax: highlight <lang> [linenos])"),
    ("{% post_url not-a-post-name %}\n", 7,
     "Liquid syntax error: Could not parse name of post \"not-a-post-name\" in tag 'post_url'. "
     "Make sure the post exists and the name is correct."),
])
def test_a_template_that_does_not_parse_makes_the_post_broken_at_its_line(
        site_dir, write_post, body, line, reason):
    write_post("bad", body=body, extra="a: 1\nb: 2")   # front matter lines 1-6, body from 7
    snapshot = open_store(site_dir).reload()
    assert snapshot.posts == ()
    assert snapshot.errors == (ContentError("_posts/2022-05-11-bad.md", reason, line),)


def test_a_liquid_syntax_error_keeps_the_last_good_version_serving(site_dir, write_post, clock):
    path = write_post("story", title="Story", body="Good {{ page.title }}.\n")
    site = Site(load_settings({"site_dir": str(site_dir), "auto_reload": False}, environ={}),
                clock)
    first = site.reload()
    feed = first.documents["/feeds/all.atom"].body.decode()
    assert "Good Story." in feed
    path.write_text(path.read_text().replace("Good {{ page.title }}.", "{% if x %}Broken"))
    second = site.reload()   # never a failed reload
    assert [e.location for e in second.snapshot.errors] == ["_posts/2022-05-11-story.md:6"]
    assert [p.title for p in second.snapshot.posts] == ["Story"]
    assert "Good Story." in second.documents["/feeds/all.atom"].body.decode()
    assert "{% if" not in second.documents["/feeds/all.atom"].body.decode()


def test_a_missing_include_that_appears_later_mends_the_post_at_the_next_reload(
        site_dir, write_post):
    write_post("uses", body="{% include later.html %}\n")
    store = open_store(site_dir)
    assert store.reload().posts == ()
    (site_dir / "_includes").mkdir()
    (site_dir / "_includes" / "later.html").write_text("Here now.")
    snapshot = store.reload()
    assert snapshot.errors == ()
    assert store.body_of(snapshot.posts[0]) == "Here now.\n"


def test_a_malformed_expression_is_a_warning_and_renders_nothing(site_dir, write_post):
    # Jekyll: 'Liquid Warning: Liquid syntax error (line 1): Expected id but found end_of_string
    # in "{{ foo | }}"', and the page shows "[] after".
    write_post("lax", body="[{{ foo | }}] after\n")
    store = open_store(site_dir)
    snapshot = store.reload()
    assert snapshot.errors == ()
    assert store.body_of(snapshot.posts[0]) == "[] after\n"
    assert [(n.line, n.kind) for n in store.liquid.report()] == [(5, "warning")]


# --- render errors: content left out, reported -----------------------------------------------------
def test_a_render_error_leaves_the_content_out_and_is_reported(site_dir, write_post, clock):
    write_post("links", title="Links", body="See {% post_url 2020-01-01-gone %}.\n",
               extra="description: Links to a post")
    site = Site(load_settings({"site_dir": str(site_dir), "auto_reload": False}, environ={}),
                clock)
    first = site.reload()   # the feeds render it: never a failed reload
    feed = first.documents["/feeds/all.atom"].body.decode()
    assert "post_url" not in feed and "Links to a post" in feed
    failures = site.store.liquid.errors(["_posts/2022-05-11-links.md"])
    assert failures == [ContentError(
        "_posts/2022-05-11-links.md", "Liquid error: Could not find post \"2020-01-01-gone\" in "
        "tag 'post_url'. Make sure the post exists and the name is correct.", 7)]
    assert site.reload().snapshot.errors == tuple(failures)   # counted among the broken


# --- includes stay inside _includes ---------------------------------------------------------------
def test_an_include_out_of_includes_is_refused(site_dir, write_post, tmp_path):
    outside = tmp_path / "secret.html"
    outside.write_text("SECRET")
    (site_dir / "_includes").mkdir()
    (site_dir / "_includes" / "link.html").symlink_to(outside)
    write_post("dots", body="{% include ../secret.html %}\n")
    write_post("link", date="2022-05-12 10:00:00 +0800", body="{% include link.html %}\n")
    write_post("variable", date="2022-05-13 10:00:00 +0800",
               body="{% assign f = '../../secret.html' %}{% include {{ f }} %}\n")
    store = open_store(site_dir)
    snapshot = store.reload()
    reasons = {e.path.rsplit("/", 1)[1]: e.reason for e in snapshot.errors}
    assert reasons["2022-05-11-dots.md"].startswith(
        "Liquid: Invalid syntax for include tag. File contains invalid characters or sequences: "
        "../secret.html")
    assert reasons["2022-05-12-link.md"] == ("Liquid: include 'link.html' leads outside "
                                             "_includes/ (a symlink out of it); not read")
    post, = snapshot.posts   # a name known only when rendering: refused then
    assert store.body_of(post) == ""
    assert "SECRET" not in store.body_of(post)
    assert "Invalid syntax for include tag" in store.liquid.failures[post.path].reason


# --- tags of Ruby plugins ------------------------------------------------------------------------
PLUGIN = """\
module Jekyll
  class Shout < Liquid::Tag
    def render(context) "LOUD" end
  end
  class Boxed < Liquid::Block
    def render(context) "<div>#{super}</div>" end
  end
end
Liquid::Template.register_tag('shout', Jekyll::Shout)
Liquid::Template.register_tag("boxed", Jekyll::Boxed)
"""


def test_plugin_tags_render_their_body_or_nothing_and_check_names_them(
        site_dir, write_post, capsys):
    write_files(site_dir, {"_plugins/tags.rb": PLUGIN})
    write_post("plugins", body="a{% shout %}b {% boxed %}inner {{ 1 | plus: 1 }}{% endboxed %}\n"
                               "{% unknown_tag %}\n", date="2022-05-11 10:00:00 +0800")
    write_post("ok", body="c{% shout %}d\n", date="2022-05-12 10:00:00 +0800")
    store = open_store(site_dir)
    snapshot = store.reload()
    assert [e.reason for e in snapshot.errors] == ["Liquid syntax error: Unknown tag 'unknown_tag'"]
    assert store.body_of(snapshot.posts[0]) == "cd\n"
    assert main(["check", "--site", str(site_dir)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "_posts/2022-05-11-plugins.md:6: Liquid syntax error: Unknown tag 'unknown_tag'",
        "_posts/2022-05-12-ok.md:5: tag 'shout' comes from the Ruby plugin _plugins/tags.rb, "
        "which feedsvc cannot run; rendered nothing",
        "1 posts published, 0 scheduled, 0 categories, 0 tags, 1 broken, 0 warnings, "
        "0 files not posts, 1 Liquid notes",
    ]


def test_a_block_plugin_tag_renders_its_body(site_dir, write_post):
    write_files(site_dir, {"_plugins/tags.rb": PLUGIN})
    write_post("box", body="{% boxed %}inner {{ 1 | plus: 1 }}{% endboxed %}\n")
    store = open_store(site_dir)
    post, = store.reload().posts
    assert store.body_of(post) == "inner 2\n"
    assert [n.message for n in store.liquid.report()] == [
        "tag 'boxed' comes from the Ruby plugin _plugins/tags.rb, which feedsvc cannot run; "
        "rendered its body as it is"]


def test_tags_of_listed_plugin_gems_are_known(site_dir, write_post):
    (site_dir / "_config.yml").write_text(
        (site_dir / "_config.yml").read_text() + "plugins: [jekyll-seo-tag, jekyll-include-cache]\n")
    write_files(site_dir, {"_includes/x.html": "X{{ include.a }}"})
    write_post("seo", body="{% seo %}{% include_cached x.html a=1 %}\n")
    store = open_store(site_dir)
    post, = store.reload().posts
    assert store.body_of(post) == "X1\n"
    assert [n.kind for n in store.liquid.report()] == ["plugin"]


def test_an_include_that_does_not_parse_breaks_the_posts_using_it(site_dir, write_post):
    # Jekyll 4.3.1: the build stops ("Liquid syntax error (line 1): 'if' tag was never closed",
    # in the included file).
    write_files(site_dir, {"_includes/bad.html": "{% if x %}"})
    write_post("uses", body="ok {% include bad.html %}\n")
    snapshot = open_store(site_dir).reload()
    assert snapshot.errors == (ContentError(
        "_posts/2022-05-11-uses.md",
        "Liquid: in included file bad.html: Liquid syntax error: 'if' tag was never closed", 5),)


def test_render_fails_as_in_jekyll_which_gives_liquid_no_file_system(site_dir, write_post):
    # Jekyll 4.3.1: "Liquid error (line 1): This liquid context does not allow includes."
    write_files(site_dir, {"_includes/x.html": "X"})
    write_post("render", body="{% render 'x.html' %}\n")
    store = open_store(site_dir)
    assert store.body_of(store.reload().posts[0]) == ""
    assert [e.reason for e in store.liquid.failures.values()] == [
        "Liquid error: This liquid context does not allow includes."]


def test_a_post_broken_by_a_missing_include_mends_after_a_restart_from_the_parse_cache(
        site_dir, write_post, tmp_path):
    write_post("uses", body="{% include later.html %}\n")
    settings = load_settings({"site_dir": str(site_dir), "cache_dir": str(tmp_path / "cache")},
                             environ={})
    assert Store.from_settings(settings).reload().posts == ()
    write_files(site_dir, {"_includes/later.html": "Here now."})   # while feedsvc is down
    restarted = Store.from_settings(settings)
    snapshot = restarted.reload()
    assert snapshot.errors == ()
    assert restarted.body_of(snapshot.posts[0]) == "Here now.\n"
