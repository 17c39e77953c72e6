"""mkdocs hook: links from a page to a repository file outside docs/ (`../examples/shop`).

On GitHub the pages are read inside the repository, where such a link opens the file. The site
holds only docs/, so there the link would point nowhere (mkdocs warns: an unrecognised relative
link, or a target not among the documentation files). With `repo_url` set in mkdocs.yml the link
goes to that file in the repository; without, its text stays and the link is dropped. A target
that does not exist is an error: tests/test_docs.py checks the same on the Markdown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<target>\.\./[^)\s#]*)(?P<anchor>#[^)\s]*)?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.DOTALL | re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(config["docs_dir"]).resolve()
    root = docs.parent
    page_dir = (docs / page.file.src_uri).parent
    repo_url = (config.get("repo_url") or "").rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        target = (page_dir / match["target"]).resolve()
        if target.is_relative_to(docs):
            return match[0]  # a page or file of the site: mkdocs checks it
        if not target.exists():
            raise ValueError(f"{page.file.src_uri}: link to {match['target']}: no such file in the repository")
        if not repo_url:
            return match["text"]
        kind = "tree" if target.is_dir() else "blob"
        return f"[{match['text']}]({repo_url}/{kind}/main/{target.relative_to(root).as_posix()})"

    # Links inside fenced code blocks are text: leave the blocks as they are.
    parts, last = [], 0
    for fence in FENCE.finditer(markdown):
        parts.append(LINK.sub(rewrite, markdown[last:fence.start()]))
        parts.append(fence[0])
        last = fence.end()
    parts.append(LINK.sub(rewrite, markdown[last:]))
    return "".join(parts)
