#!/usr/bin/env python3
"""Write a deterministic, realistic Jekyll site of N posts for the benchmarks.

    python -m bench.make_store N OUT            # a Jekyll site: OUT/_config.yml, OUT/_posts/
    python -m bench.make_store N OUT --hugo     # the same posts as a Hugo site: OUT/content/posts/

The posts have the shape of the news site feedsvc serves (see docs/benchmarks.md): YAML front
matter with a quoted Chinese title, ``date: YYYY-MM-DD HH:MM:SS +0800``, one ASCII category,
1-3 tags (mostly Chinese); a body of 4-6 KB of ``<p>`` paragraphs on one line, a blank line,
an ``<http://...>`` autolink, a blank line and a line of protocol-relative Markdown links joined
by a full-width ``｜``. Everything comes from ``random.Random(N)`` and fixed word lists, so the
same N always writes the same bytes. The Jekyll site builds with ``jekyll build`` and
jekyll-feed (``plugins: [jekyll-feed]``); the Hugo site with ``hugo``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

SITE_URL = "https://news.example.com"
HOST = "news.example.com"
SOURCE_HOST = "source.example.cn"
ZONE = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2022, 1, 1, tzinfo=ZONE)
SPAN_SECONDS = 2 * 365 * 24 * 3600   # dates spread over two years
FEED_LIMIT = 20                      # entries per feed, the same for all three tools
MARKER = ".bench-store"              # marks a folder this script may replace

CATEGORIES = (
    "dongfangwang", "caijing", "keji", "shehui", "guoji", "tiyu", "wenhua", "jiaoyu",
    "jiankang", "qiche", "fangchan", "lvyou", "meishi", "junshi", "falv", "huanbao",
    "nongye", "nengyuan", "jinrong", "zhengwu", "shuma", "yule", "kexue", "chengshi",
)
TAGS = (
    "东方网新闻", "上海", "北京", "长三角", "复工复产", "疫情防控", "民生", "经济",
    "科技创新", "人工智能", "新能源", "乡村振兴", "教育改革", "医疗卫生", "城市更新",
    "文化旅游", "体育赛事", "国际合作", "金融市场", "消费升级", "数字经济", "生态环境",
    "交通出行", "住房保障", "养老服务", "就业创业", "法治建设", "社区治理", "非遗传承",
    "航天", "芯片", "直播电商", "碳中和", "高校", "博物馆", "AI", "5G", "ESG", "GDP", "CBD",
)
# Syllables for slugs and the words that make up titles and paragraphs.
SYLLABLES = ("shi", "gong", "jing", "lian", "xin", "wen", "hua", "qi", "ye", "fu", "wu",
             "ping", "tai", "jian", "she", "fa", "zhan", "min", "sheng", "ke", "ji", "chuang")
SUBJECTS = ("市政府", "区委", "行业协会", "科研团队", "志愿者", "街道办事处", "企业代表",
            "专家学者", "社区居民", "主管部门", "高校师生", "金融机构", "医护人员", "研究院",
            "商会", "合作社", "新闻中心", "博物馆", "运营公司", "工作组")
VERBS = ("推出", "召开", "发布", "启动", "举办", "完善", "加快", "落实", "探索", "推进",
         "开展", "建设", "优化", "支持", "组织", "筹备", "升级", "公布", "总结", "部署")
OBJECTS = ("线上讲座", "惠企政策", "服务平台", "试点项目", "专项行动", "发展规划", "公共设施",
           "培训课程", "数据报告", "改革方案", "文化活动", "交流会议", "应急预案", "产业基金",
           "科普展览", "就业岗位", "便民措施", "绿色通道", "合作协议", "评估机制")
PHRASES = ("据不完全统计", "与此同时", "记者了解到", "值得一提的是", "业内人士表示",
           "截至目前", "在此基础上", "据介绍", "另一方面", "从长远来看", "总体来看", "此外")
DETAILS = ("受到广泛欢迎", "取得良好效果", "参与人数超过千人", "进一步提高了工作效率",
           "为企业排忧解难", "切实解决群众关心的问题", "吸引了大批市民参与", "形成了可复制的经验",
           "有效降低了运营成本", "得到各方积极响应", "填补了相关领域的空白", "推动行业高质量发展")


def sentence(rng: random.Random) -> str:
    """Return one Chinese sentence made of the fixed word lists."""
    lead = rng.choice(PHRASES) + "，" if rng.random() < 0.4 else ""
    quoted = f"《{rng.choice(OBJECTS)}{rng.choice(('实施细则', '工作指引', '白皮书'))}》" \
        if rng.random() < 0.2 else rng.choice(OBJECTS)
    number = f"{rng.randint(2, 98)}项" if rng.random() < 0.3 else ""
    return (f"{lead}{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{number}{quoted}，"
            f"{rng.choice(SUBJECTS)}{rng.choice(VERBS)}“{rng.choice(OBJECTS)}”，"
            f"{rng.choice(DETAILS)}。")


def sentence_pool(rng: random.Random, size: int = 4000) -> list[str]:
    """Return *size* sentences to draw paragraphs from (drawing is much faster than making)."""
    return [sentence(rng) for _ in range(size)]


def body_html(rng: random.Random, pool: list[str], source: str) -> str:
    """Return 4-6 KB of ``<p>`` paragraphs on one line, as the news site writes them."""
    target = rng.randint(4096, 6144)
    parts: list[str] = []
    size = 0
    while size < target - 200:
        if rng.random() < 0.15:
            part = f"<p><strong>{rng.choice(OBJECTS)}{rng.choice(DETAILS)}</strong></p>"
        else:
            part = "<p>" + "".join(rng.choices(pool, k=rng.randint(2, 6))) + "</p>"
        parts.append(part)
        size += len(part.encode("utf-8"))
    parts.append(f'<p class="em_media">（文章来源：{source}）</p>')
    return "".join(parts)


def title_of(rng: random.Random) -> str:
    """Return a Chinese headline with full-width punctuation, sometimes an ellipsis."""
    head = f"{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{rng.choice(OBJECTS)}"
    if rng.random() < 0.3:
        head = f"{rng.choice(OBJECTS)}、{rng.choice(OBJECTS)}……{head}"
    elif rng.random() < 0.3:
        head = f"“{rng.choice(OBJECTS)}”：{head}"
    return head


def make_posts(n: int) -> Iterator[dict]:
    """Yield the N posts of the site for seed N, oldest first (one at a time: memory)."""
    rng = random.Random(n)
    pool = sentence_pool(rng)
    seconds = sorted(rng.randrange(SPAN_SECONDS) for _ in range(n))
    for index, offset in enumerate(seconds):
        date = START + dt.timedelta(seconds=offset)
        slug = "-".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) + f"-{index:06d}"
        category = rng.choice(CATEGORIES)
        tags = rng.sample(TAGS, k=rng.choice((1, 1, 2, 2, 2, 3)))
        source = rng.choice(("东方网", "新华社", "本站记者", "人民网", "澎湃新闻"))
        yield {
            "date": date, "slug": slug, "category": category, "tags": tags,
            "title": title_of(rng), "body": body_html(rng, pool, source),
            "source": f"http://{SOURCE_HOST}/news/{date:%Y%m%d}/{rng.randrange(10**9):09d}.html",
            "tag_style": rng.random(),
        }


def front_matter(post: dict, hugo: bool) -> str:
    """Return the YAML front matter of one post, as the news site writes it."""
    tags = post["tags"]
    if hugo:  # Hugo takes a taxonomy string as one term: give it lists
        tag_line = "[" + ", ".join(tags) + "]"
        category_line = f"[{post['category']}]"
    else:
        category_line = post["category"]
        # The site writes one tag as a string; several either way Jekyll reads them.
        tag_line = " ".join(tags) if len(tags) == 1 or post["tag_style"] < 0.5 \
            else "[" + ", ".join(tags) + "]"
    return (f"---\nlayout: post\ntitle: \"{post['title']}\"\n"
            f"date: {post['date']:%Y-%m-%d %H:%M:%S} +0800\n"
            f"categories: {category_line}\ntags: {tag_line}\n---\n")


def post_text(post: dict, hugo: bool = False) -> str:
    """Return the whole file of one post."""
    links = (f"[返回{post['tags'][0]}](//{HOST}/category/{post['category']}.html)"
             f"｜[返回首页](//{HOST}/)")
    return f"{front_matter(post, hugo)}{post['body']}\n\n<{post['source']}>\n\n{links}\n"


JEKYLL_CONFIG = f"""\
title: 基准新闻网
description: feedsvc 基准测试用的生成站点
url: "{SITE_URL}"
baseurl: ""
timezone: Asia/Shanghai
permalink: date
plugins: [jekyll-feed]
feed:
  posts_limit: {FEED_LIMIT}
  categories: [{", ".join(CATEGORIES)}]
  tags: true
exclude: [content, layouts, hugo.toml, public, resources]
"""
JEKYLL_LAYOUT = "<!DOCTYPE html>\n<title>{{ page.title }}</title>\n{{ content }}\n"
HUGO_CONFIG = f"""\
baseURL = "{SITE_URL}/"
title = "基准新闻网"
languageCode = "zh-cn"
timeZone = "Asia/Shanghai"
disableKinds = ["sitemap", "robotsTXT", "404"]
[taxonomies]
  category = "categories"
  tag = "tags"
[outputs]
  home = ["HTML", "RSS"]
  section = ["HTML"]
  taxonomy = ["HTML"]
  term = ["HTML", "RSS"]
[services.rss]
  limit = {FEED_LIMIT}
[markup.goldmark.renderer]
  unsafe = true   # the bodies are HTML, as in Jekyll's kramdown
"""
HUGO_SINGLE = "<!DOCTYPE html>\n<title>{{ .Title }}</title>\n{{ .Content }}\n"
HUGO_LIST = ("<!DOCTYPE html>\n<title>{{ .Title }}</title>\n<ul>{{ range first 20 .Pages }}"
             "<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul>\n")


def write_files(out: Path, files: dict[str, str]) -> None:
    """Write small files (config, layouts) under *out*."""
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def write_site(n: int, out: Path, hugo: bool = False) -> int:
    """Write the site of N posts to *out* (replaced); return the bytes of posts written.

    Raise ``FileExistsError`` if *out* holds anything but a site this script wrote.
    """
    if (out / MARKER).exists():
        shutil.rmtree(out)
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty and was not written by make_store.py")
    if hugo:
        posts_dir = out / "content" / "posts"
        write_files(out, {"hugo.toml": HUGO_CONFIG, "layouts/_default/single.html": HUGO_SINGLE,
                          "layouts/_default/list.html": HUGO_LIST,
                          "layouts/index.html": HUGO_LIST})
    else:
        posts_dir = out / "_posts"
        write_files(out, {"_config.yml": JEKYLL_CONFIG, "_layouts/post.html": JEKYLL_LAYOUT,
                          "_layouts/default.html": JEKYLL_LAYOUT})
    posts_dir.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(f"{n}\n", encoding="utf-8")
    total = 0
    for post in make_posts(n):
        data = post_text(post, hugo).encode("utf-8")
        name = f"{post['date']:%Y-%m-%d}-{post['slug']}.md"
        with open(os.path.join(posts_dir, name), "wb") as handle:
            handle.write(data)
        total += len(data)
    return total


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the site."""
    parser = argparse.ArgumentParser(prog="python -m bench.make_store",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, metavar="N", help="number of posts")
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to write (replaced)")
    parser.add_argument("--hugo", action="store_true",
                        help="write a Hugo site (content/posts/) instead of a Jekyll one")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("N must be at least 1")
    try:
        total = write_site(args.n, args.out, args.hugo)
    except FileExistsError as exc:
        parser.error(str(exc))
    print(f"wrote {args.n} posts ({total / 1e6:.1f} MB) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
