"""Korean first: every message has its Korean translation, compiled."""

from __future__ import annotations

from pathlib import Path

from django.utils import translation

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def entries(po: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of every entry but the header."""
    found = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith(("msgctxt ", "msgid ", "msgstr ", "msgid_plural ", "msgstr[0] ")):
                key, _, rest = line.partition(" ")
                key = "msgstr" if key == "msgstr[0]" else key
                fields[key] = rest.strip('"')
            elif line.startswith('"') and key:
                fields[key] += line.strip('"')
        if fields.get("msgid"):
            if "msgid_plural" in fields:  # Korean has one plural form
                fields["msgid"] = "plural:" + fields["msgid"]
            if "msgctxt" in fields:  # looked up with pgettext: "context\x04message"
                fields["msgid"] = fields["msgctxt"] + "\x04" + fields["msgid"]
            found.append((fields["msgid"], fields.get("msgstr", ""), "#, fuzzy" in block))
    return found


def test_every_message_is_translated_to_korean():
    po = LOCALE / "ko" / "LC_MESSAGES" / "django.po"
    untranslated = [msgid for msgid, msgstr, fuzzy in entries(po) if not msgstr or fuzzy]
    assert untranslated == []


def test_compiled_catalogue_is_current():
    po = LOCALE / "ko" / "LC_MESSAGES" / "django.po"
    with translation.override("ko"):
        for msgid, msgstr, _ in entries(po):
            if "%" not in msgid and not msgid.startswith("plural:"):
                assert translation.gettext(msgid.replace('\\"', '"')) == msgstr.replace('\\"', '"')
