"""The web pages, admin and public blog: Jinja templates, static files and handlers, for `create_app`."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from webapi.pages.admin import AdminPages
from webapi.pages.blog import BlogPages
from webapi.pages.session import EXCLUDE
from webapi.pages.site import SiteController

_HERE = Path(__file__).resolve().parent.parent

PAGE_HANDLERS = [SiteController, AdminPages, BlogPages]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=_HERE / "templates", engine=JinjaTemplateEngine)


def static_files() -> Router:
    return create_static_files_router(path="/static", directories=[_HERE / "static"], opt=EXCLUDE)


__all__ = ["PAGE_HANDLERS", "static_files", "template_config"]
