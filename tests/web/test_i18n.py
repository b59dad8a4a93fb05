"""Every message the portal and the oversight report show has its Chinese translation, and the
formats are the locale's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from babel.messages.extract import extract_from_dir

from zhengxin.kit.i18n import local_date, merged_catalog, translations, yuan
from zhengxin.oversight import render as oversight_render
from zhengxin.web.i18n import HERE

METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}


def messages_in(folder: Path) -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(folder, METHODS, OPTIONS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def portal_messages() -> set[str]:
    return messages_in(HERE)


def test_every_portal_message_has_a_chinese_translation():
    messages = portal_messages()
    assert len(messages) > 20  # the extractor really read the templates
    missing = sorted(messages - set(merged_catalog("zh_CN")._messages))
    assert not missing, "no zh_CN translation for:\n" + "\n".join(missing)


def test_every_oversight_report_message_has_a_chinese_translation():
    messages = messages_in(Path(oversight_render.__file__).parent) | set(oversight_render.CELL_LABELS.values())
    assert len(messages) > 60
    missing = sorted(messages - set(merged_catalog("zh_CN")._messages))
    assert not missing, "no zh_CN translation for:\n" + "\n".join(missing)


def test_translations_are_loaded_from_every_po_file():
    assert translations("zh_CN").gettext("Sign in") == "登录"
    assert translations("en").gettext("Sign in") == "Sign in"


def test_money_is_yuan_with_two_decimals_and_dates_follow_the_locale():
    assert yuan(123456, "zh_CN") == "¥1,234.56"
    assert yuan(5, "en") == "CN¥0.05"
    assert local_date(date(2026, 11, 3), "zh_CN") == "2026年11月3日"
    assert local_date("2026-11-03", "en") == "Nov 3, 2026"


def test_every_model_card_message_has_a_chinese_translation():
    from zhengxin.reports.scoring import model

    messages = messages_in(Path(model.__file__).parent)
    assert len(messages) > 40
    missing = sorted(messages - set(merged_catalog("zh_CN")._messages))
    assert not missing, "no zh_CN translation for:\n" + "\n".join(missing)
