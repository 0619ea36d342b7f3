"""The README and the docs/ pages: every link and anchor resolves, every page is reachable from the
README, and the README stays short and opens with the two commands a newcomer pastes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

README_MAX_LINES = 200
COMMANDS_WITHIN_LINES = 15
THE_TWO_COMMANDS = ("make test", "make demo")

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
INLINE_CODE = re.compile(r"`[^`]*`")
COMMENT = re.compile(r"<!--.*?-->", re.S)
# GitHub's heading anchors, as github-slugger computes them (https://github.com/Flet/github-slugger,
# index.js) and GitHub documents them ("Section links" in "Basic writing and formatting syntax",
# https://docs.github.com/en/get-started/writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax):
# lowercase, markup dropped, every character that is not a letter, digit, `_`, `-` or space removed,
# each space a hyphen; a repeated anchor gets -1, -2, ...
NOT_IN_ANCHOR = re.compile(r"[^\w\- ]")


@dataclass(frozen=True)
class Page:
    path: Path
    lines: list[str]  # prose lines: fenced code blocks left out
    headings: list[str]
    fences: list[tuple[int, list[str]]]  # (line number of the opening fence, 1-based; its lines)

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))


def read_page(path: Path) -> Page:
    """Split a Markdown file into prose, headings and fenced blocks (a `#` in a shell block is no heading)."""
    prose: list[str] = []
    fences: list[tuple[int, list[str]]] = []
    block: list[str] | None = None
    for number, line in enumerate(COMMENT.sub("", path.read_text()).splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            if block is None:
                block = []
                fences.append((number, block))
            else:
                block = None
        elif block is not None:
            block.append(line)
        else:
            prose.append(line)
    headings = [match.group(2) for line in prose if (match := HEADING.match(line))]
    return Page(path=path, lines=prose, headings=headings, fences=fences)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading, before duplicates are numbered."""
    text = INLINE_LINK.sub(r"\1", heading).strip().lower()
    return NOT_IN_ANCHOR.sub("", text).replace(" ", "-")


def anchors(page: Page) -> set[str]:
    """Every anchor of a page, with GitHub's -1, -2 suffixes on repeated headings."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in page.headings:
        base = anchor(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def links(page: Page) -> list[str]:
    """Link targets in the prose, leaving out links shown as code."""
    return [target for line in page.lines for target in LINK.findall(INLINE_CODE.sub("", line))]


def local_links(page: Page) -> list[tuple[str, str]]:
    """(path, anchor) of every link that is neither a URL nor an e-mail address."""
    return [
        (path, fragment)
        for target in links(page)
        if "://" not in target and not target.startswith("mailto:")
        for path, _, fragment in [target.partition("#")]
    ]


PAGE_BY_PATH = {path: read_page(path) for path in PAGES}


def broken_link(page: Page, path: str, fragment: str) -> str | None:
    """Why a link from `page` does not resolve, or None when it does."""
    target = (page.path.parent / path).resolve() if path else page.path
    if not target.is_relative_to(ROOT):
        return "points outside the repository"
    if not target.exists():
        return "names no file"
    if not fragment:
        return None
    if target.suffix != ".md":
        return "has an anchor into a file that is not Markdown"
    known = anchors(PAGE_BY_PATH.get(target) or read_page(target))
    return None if fragment in known else f"has no heading with anchor #{fragment}"


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    page = PAGE_BY_PATH[path]
    broken = [
        f"{path_part}#{fragment} {reason}" if fragment else f"{path_part} {reason}"
        for path_part, fragment in local_links(page)
        if (reason := broken_link(page, path_part, fragment))
    ]
    assert not broken, f"{page.name}: broken links: {broken}"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / path).resolve() for path, _ in local_links(PAGE_BY_PATH[README]) if path}
    pages = [page for page in PAGE_BY_PATH.values() if page.path != README]
    unlinked = [page.name for page in pages if page.path not in linked]
    assert not unlinked, f"README.md does not link these docs pages: {unlinked}"


@pytest.mark.parametrize("path", PAGES[1:], ids=lambda path: str(path.relative_to(ROOT)))
def test_each_docs_page_says_its_question_and_links_back_to_the_readme(path: Path) -> None:
    page = PAGE_BY_PATH[path]
    text = [line.strip() for line in page.lines if line.strip()]
    assert text and text[0].startswith("# "), f"{page.name} must open with its title (# ...)"
    assert len(text) > 1 and text[1].endswith("?"), (
        f"{page.name}: the line after the title must be the question the page answers, got {text[1:2]}"
    )
    back = [path for path, _ in local_links(page) if path and (page.path.parent / path).resolve() == README]
    assert back, f"{page.name} does not link back to README.md"


def test_the_readme_is_under_200_lines() -> None:
    count = len(README.read_text().splitlines())
    assert count < README_MAX_LINES, f"README.md has {count} lines; keep it under {README_MAX_LINES}"


def test_the_readme_opens_with_the_two_commands_in_a_code_block() -> None:
    opening = [
        line.split("#", 1)[0].strip()
        for start, block in PAGE_BY_PATH[README].fences
        if start <= COMMANDS_WITHIN_LINES
        for line in block
    ]
    missing = [command for command in THE_TWO_COMMANDS if command not in opening]
    assert not missing, (
        f"README.md must show {missing} in a code block within its first {COMMANDS_WITHIN_LINES} lines"
    )


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    """.ci/run (and so the ci workflow) runs exactly the README's test command; both are make targets."""
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci_commands[-1] == THE_TWO_COMMANDS[0], f".ci/run ends with {ci_commands[-1]!r}"
    targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
    missing = [command for command in THE_TWO_COMMANDS if command.split()[1] not in targets]
    assert not missing, f"the Makefile has no target for {missing}"


def test_the_readme_points_nowhere_outside_the_repository() -> None:
    text = re.sub(r"https?://\S+", "", README.read_text())
    parent_paths = re.findall(r"(?<![.\w])\.\./\S*", text)
    assert not parent_paths, f"README points outside the repository: {parent_paths}"


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        # The README's old link to this heading worked on GitHub: code, dots, slashes and commas go.
        ("A real account, end to end (`.github/workflows/integration.yml`)",
         "a-real-account-end-to-end-githubworkflowsintegrationyml"),
        ("The stack's KMS key", "the-stacks-kms-key"),
        # Each space is a hyphen, so a spaced dash leaves three (github-slugger replaces /\s/g, not runs).
        ("Step 1 - deploy", "step-1---deploy"),
        ("[Linked](https://example.com) heading", "linked-heading"),
        ("snake_case stays", "snake_case-stays"),
    ],
)  # fmt: skip
def test_anchors_follow_githubs_rule(heading: str, expected: str) -> None:
    assert anchor(heading) == expected


def test_repeated_headings_get_numbered_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Settings\n\n```bash\n# Settings\n```\n\n## Settings\n\n## Settings\n")
    assert anchors(read_page(page)) == {"page", "settings", "settings-1", "settings-2"}
