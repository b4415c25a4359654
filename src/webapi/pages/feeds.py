"""The public blog's machine-readable views: an Atom feed and a sitemap, built with ElementTree so
every title and body is escaped as XML requires."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from blogqueue.models import BlogPost
from blogqueue.posts import PublishedRef
from webapi.pages.markdown import render_markdown

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC); feeds and JSON-LD need the zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def published_on(post: BlogPost) -> datetime:
    return as_utc(post.published_at or post.created_at)


def updated_on(post: BlogPost) -> datetime:
    return as_utc(post.updated_at)


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _xml(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def atom_feed(posts: list[BlogPost], base_url: str) -> str:
    """An Atom 1.0 feed of the posts, newest first, with their bodies rendered as the post pages show them."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _child(feed, f"{{{ATOM}}}title", "BlogQueue")
    _child(feed, f"{{{ATOM}}}id", f"{base_url}/blog")
    _child(feed, f"{{{ATOM}}}link", href=f"{base_url}/blog/feed.xml", rel="self")
    _child(feed, f"{{{ATOM}}}link", href=f"{base_url}/blog")
    newest = max((updated_on(post) for post in posts), default=None)
    _child(feed, f"{{{ATOM}}}updated", (newest or datetime.now(UTC)).isoformat())
    _child(_child(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name", "BlogQueue")
    for post in posts:
        url = f"{base_url}/blog/{post.slug}"
        entry = _child(feed, f"{{{ATOM}}}entry")
        _child(entry, f"{{{ATOM}}}title", post.title)
        _child(entry, f"{{{ATOM}}}id", url)
        _child(entry, f"{{{ATOM}}}link", href=url)
        _child(entry, f"{{{ATOM}}}published", published_on(post).isoformat())
        _child(entry, f"{{{ATOM}}}updated", updated_on(post).isoformat())
        for tag in post.tags:
            _child(entry, f"{{{ATOM}}}category", term=tag)
        if post.excerpt:
            _child(entry, f"{{{ATOM}}}summary", post.excerpt)
        _child(entry, f"{{{ATOM}}}content", str(render_markdown(post.body)), type="html")
    return _xml(feed)


def sitemap(refs: list[PublishedRef], base_url: str) -> str:
    ET.register_namespace("", SITEMAP)
    urlset = ET.Element(f"{{{SITEMAP}}}urlset")
    _child(_child(urlset, f"{{{SITEMAP}}}url"), f"{{{SITEMAP}}}loc", f"{base_url}/blog")
    for ref in refs:
        url = _child(urlset, f"{{{SITEMAP}}}url")
        _child(url, f"{{{SITEMAP}}}loc", f"{base_url}/blog/{ref.slug}")
        _child(url, f"{{{SITEMAP}}}lastmod", ref.updated_at.date().isoformat())
    return _xml(urlset)
