"""English and Simplified Chinese ship together; every string has its translation, compiled in the repo."""

from __future__ import annotations

import ast
import gettext
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"


def po_entries(text: str) -> list[tuple[str, list[str], bool]]:
    """(msgid, msgstrs, fuzzy) for every entry of a .po file but its header."""
    entries = []
    for block in text.strip().split("\n\n")[1:]:
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line.startswith('"'):
                fields[key] += ast.literal_eval(line)
            else:
                key, _, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
        strs = [v for k, v in fields.items() if k.startswith("msgstr")]
        entries.append((fields["msgid"], strs, "#, fuzzy" in block))
    return entries


def test_it_ships_a_complete_compiled_chinese_catalog():
    entries = po_entries((LOCALE / "django.po").read_text())
    assert len(entries) > 50
    assert [msgid for msgid, strs, fuzzy in entries if fuzzy or not all(strs)] == []
    mo = LOCALE / "django.mo"
    translation = gettext.GNUTranslations(mo.open("rb"))
    for msgid, strs, _ in entries:
        if len(strs) == 1:
            assert translation.gettext(msgid) == strs[0], f"django.mo is older than django.po for {msgid!r}"


def test_every_template_string_is_in_the_catalog():
    """A string marked in a template or module but missing from django.po would show in English to Chinese users."""
    from django.core.management import call_command

    known = {msgid for msgid, _, _ in po_entries((LOCALE / "django.po").read_text())}
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            ROOT,
            Path(tmp) / "src",
            ignore=shutil.ignore_patterns(
                ".venv", ".devstack", ".teststack*", ".git", "tests", "node_modules", "*.mo", "bench"
            ),
        )
        cwd = os.getcwd()
        os.chdir(Path(tmp) / "src")
        try:
            call_command("makemessages", locale=["zh_Hans"], verbosity=0, no_obsolete=True)
        finally:
            os.chdir(cwd)
        fresh = {
            msgid
            for msgid, _, _ in po_entries(
                (Path(tmp) / "src" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text()
            )
        }
    assert sorted(fresh - known) == []


def test_it_switches_to_chinese_and_back(viewer_client):
    response = viewer_client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("services")})
    assert response.status_code == 302
    body = viewer_client.get(reverse("services")).content.decode()
    assert '<html lang="zh-hans">' in body
    assert ">服务</a>" in body
    assert ">概览</a>" in body
    viewer_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert ">Services</a>" in viewer_client.get(reverse("services")).content.decode()


@pytest.mark.django_db
def test_it_offers_the_language_switch_before_login(client):
    body = client.get(reverse("login")).content.decode()
    assert 'value="zh-hans"' in body
    assert "中文" in body or "简体中文" in body
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("login")})
    assert response.status_code == 302
    assert "登录" in client.get(reverse("login")).content.decode()
