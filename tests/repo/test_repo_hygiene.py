"""Repository-wide checks: notebook hygiene, and no secrets anywhere."""

import re
import subprocess
import sys
from pathlib import Path

import jwt

import glm_offline

ROOT = Path(__file__).resolve().parents[2]
# Shapes only: a real GLM key is 32 hex + "." + 16 alphanumerics; a JWT starts "eyJ".
REAL_KEY = re.compile(r"[0-9a-f]{32}\.[A-Za-z0-9]{16}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", "node_modules",
             "my-lessons"}  # the learner's own copies (gitignored): a key pasted there is theirs


def repo_files():
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIP_DIRS & set(path.relative_to(ROOT).parts[:-1]) \
                and ".egg-info" not in str(path):
            yield path


def test_notebooks_pass_the_hygiene_script():
    result = subprocess.run([sys.executable, str(ROOT / "contributors" / "notebook_hygiene.py")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_real_looking_api_key_in_the_repo():
    leaks = [f"{p.relative_to(ROOT)}: {m.group()[:6]}..." for p in repo_files()
             for m in REAL_KEY.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not leaks


def test_every_jwt_in_the_repo_is_signed_with_the_offline_key():
    secret = glm_offline.split_key(glm_offline.OFFLINE_API_KEY)[1]
    tokens = [(p, m.group()) for p in repo_files()
              for m in JWT.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    for path, token in tokens:
        try:
            jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
        except jwt.InvalidSignatureError:
            raise AssertionError(f"{path.relative_to(ROOT)} holds a JWT not signed with the "
                                 "offline key") from None


def test_secret_scan_recognises_what_it_looks_for():
    fake_key = "0123456789abcdef" * 2 + "." + "AbCdEfGh12345678"
    assert REAL_KEY.search(f"key = '{fake_key}'")
    foreign = jwt.encode({"api_key": "x"}, "another-secret-that-is-32-bytes-long!",
                         algorithm="HS256")
    assert JWT.search(foreign)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) >= 2 and commands[0].endswith(".venv/bin/python -m glm_lessons lab")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[:2] == re.findall(r"```bash\n(.+?)\n```",
                                      (ROOT / "README_zh.md").read_text(encoding="utf-8"))[:2]


# Sources: code, tests and lessons cite docs/sources.md by section, never the unpublished
# research notes they were first written from (a learner's or reader's copy has no such file).
SOURCES = ROOT / "docs" / "sources.md"
RESEARCH_NOTES = "glm-api-" + "facts"  # in two pieces, so that this file does not name it
SHORT_CITATION = re.compile(r"\bfacts:? (?:§ ?|sections? )?\d")  # the word, then a section number
# "sources.md#thinking", "sources.md#responses, #streaming and #errors"
SOURCES_CITATION = re.compile(r"sources\.md(#[\w-]+(?:(?:,? and |, )#[\w-]+)*)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$")


def github_anchor(heading):
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def heading_anchors(markdown):
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    anchors, seen, fenced = set(), {}, False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            anchor = github_anchor(match.group(1))
            count = seen[anchor] = seen.get(anchor, -1) + 1
            anchors.add(f"{anchor}-{count}" if count else anchor)
    return anchors


def cited_anchors(text):
    return [anchor for match in SOURCES_CITATION.finditer(text)
            for anchor in re.findall(r"#([\w-]+)", match.group(1))]


def test_github_anchor_rules_and_the_citation_pattern():
    assert github_anchor("Rate limits and retries") == "rate-limits-and-retries"
    assert github_anchor("Live texts (2026)") == "live-texts-2026"
    assert github_anchor("What's sent?") == "whats-sent"
    assert heading_anchors("# Errors\n```\n# not a heading\n```\n## Errors\n") == {
        "errors", "errors-1"}
    assert cited_anchors("see sources.md#responses, #streaming and #errors; #other") == [
        "responses", "streaming", "errors"]
    word = "facts"  # not spelled next to a number here, or this file would cite itself
    assert SHORT_CITATION.search(f"a capture ({word} 3.2 c)")
    assert SHORT_CITATION.search(f"({word} section 1)")
    assert not SHORT_CITATION.search(f"the {word} are these")


def test_nothing_cites_the_unpublished_research_notes():
    citing = [str(p.relative_to(ROOT)) for p in repo_files() if p != SOURCES
              and (RESEARCH_NOTES in (text := p.read_text(encoding="utf-8", errors="replace"))
                   or SHORT_CITATION.search(text))]
    assert not citing, f"cite docs/sources.md#<section> or a public URL instead: {citing}"


def test_every_cited_section_of_docs_sources_exists():
    anchors = heading_anchors(SOURCES.read_text(encoding="utf-8"))
    cited = {}
    for path in repo_files():
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found = cited_anchors(text)
        if path == SOURCES:  # the page's own links to its sections
            found += re.findall(r"\]\(#([\w-]+)\)", text)
        for anchor in found:
            cited.setdefault(anchor, []).append(str(path.relative_to(ROOT)))
    assert "thinking" in cited and "glm_client.py" in sum(cited.values(), [])
    missing = {anchor: sorted(set(paths)) for anchor, paths in cited.items()
               if anchor not in anchors}
    assert not missing, f"docs/sources.md has no such section: {missing}"
