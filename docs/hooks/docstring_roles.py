"""mkdocs hook: Sphinx roles in docstrings read as plain code in the API reference.

The package's docstrings name other objects the Sphinx way (``:class:`SkillWrapper```), which Markdown
renders as ``:class:`` followed by the name in code. This hook drops the role and keeps the name.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>~?")
"""A role right before the ``<code>`` element Markdown made of its target (``~`` shortens the name in
Sphinx; here the name is shown as written)."""


def on_page_content(html: str, **_: Any) -> str:
    return ROLE.sub("<code>", html)
