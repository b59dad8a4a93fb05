"""The portal's templates in each language (the catalogs and formats are `kit.i18n`'s)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from zhengxin.kit.i18n import jinja_environment

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"


@cache
def environment(locale: str) -> Environment:
    return jinja_environment(FileSystemLoader(TEMPLATES), locale)
