"""Writes models-quantized/text/emoji.tsv: every emoji of the PyPI package `emoji` (CLDR short names) as
`emoji<TAB>name`, the name lower-case with spaces. Keys leave out variation selectors and skin-tone modifiers (the
readers drop them from the text first, so a toned or text-style emoji reads as its base form); emojis made of ASCII
characters (keycaps) are left out, so digits and '#' stay text. Every text tier reads the names (common.EmojiNames,
crates/emosense-core/src/text/emoji.rs)."""
import os
import sys

import emoji

sys.path.insert(0, os.path.dirname(__file__))
from common import EMOJI_TABLE, EmojiNames  # noqa: E402


def main():
    table = {}
    for chars, data in emoji.EMOJI_DATA.items():
        key = "".join(c for c in chars if ord(c) not in EmojiNames.IGNORED)
        if not key or any(ord(c) < 0x80 for c in key) or "skin_tone" in data["en"]:
            continue
        name = data["en"].strip(":").replace("_", " ").lower()
        if key not in table or data["status"] == emoji.STATUS["fully_qualified"]:
            table[key] = name
    with open(EMOJI_TABLE, "w", encoding="utf-8") as f:
        f.write(f"# emoji<TAB>CLDR short name, from the PyPI package emoji {emoji.__version__} (BSD licence)\n")
        for key in sorted(table):
            f.write(f"{key}\t{table[key]}\n")
    print(len(table), "emojis, longest", max(len(k) for k in table), "code points")


if __name__ == "__main__":
    main()
