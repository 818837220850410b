"""mdpipe's `smartypants` step, in Python: typographic quotes, dashes and ellipses outside code.

Quotes follow the `lang` setting: „German“ for `de`, « French » for `fr`, “English” otherwise.
"""

import re

import wit_world
import wit_world.exports
from wit_world.imports import log, settings

QUOTES = {
    "de": ("„", "“", "‚", "‘"),
    "fr": ("« ", " »", "‹ ", " ›"),
}
ENGLISH = ("“", "”", "‘", "’")
# Code spans and fenced blocks are left alone.
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


class Step(wit_world.exports.Step):
    def transform(self, document: str) -> str:
        language = (settings.get("lang") or "en")[:2]
        quotes = QUOTES.get(language, ENGLISH)
        parts = CODE.split(document)
        changes = 0
        for i in range(0, len(parts), 2):  # even parts are prose
            parts[i], n = typeset(parts[i], quotes)
            changes += n
        log.log(log.Level.INFO, f"typeset {changes} quotes and dashes ({language})")
        return "".join(parts)


def typeset(text: str, quotes) -> tuple[str, int]:
    open_double, close_double, open_single, close_single = quotes
    rules = [
        (r"---", "—"),
        (r"--", "–"),
        (r"\.\.\.", "…"),
        (r'"(?=\w)', open_double),
        (r'"', close_double),
        (r"(?<=\w)'(?=\w)", "’"),  # an apostrophe
        (r"'(?=\w)", open_single),
        (r"'", close_single),
    ]
    total = 0
    for pattern, replacement in rules:
        text, n = re.subn(pattern, replacement, text)
        total += n
    return text, total
