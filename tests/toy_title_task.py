"""A toy third model task for the tests: a one-line Chinese title. Registering it is all a run needs."""

from __future__ import annotations

from digest.core.record import Entry
from digest.enrich.text_checks import cjk_share


class TitleZh:
    name = "title_zh"
    template = "prompts/title_zh.j2"
    needs_fulltext = False
    required = True

    def prompt_values(self, entry: Entry, fulltext: str | None) -> dict[str, str] | None:
        return {"title": entry.title}

    def check(self, text: str, entry: Entry) -> str | None:
        if not text or "\n" in text:
            return "标题必须是一行"
        return None if cjk_share(text) >= 0.5 else "标题不是中文"


TASK = TitleZh()

TEMPLATE = (
    "{% block system %}把论文标题译成一行简体中文，只输出译名。{% endblock %}\n"
    "{% block user %}<title_zh>{{ title }}</title_zh>{% endblock %}\n"
)
