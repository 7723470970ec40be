"""The code blocks of README.md and docs/*.md, run as a reader would run them, so that an example that stops
working fails the tests.

The convention (for everyone who writes a block):

* Every fenced block whose language is ``python`` (or ``py``), ``bash``, ``sh`` or ``shell`` runs. A block is
  skipped only when the line immediately before its opening fence is ``<!-- readme-test: skip (reason) -->`` with
  a non-empty reason (a TPU pod command, a download, a run that takes hours here). A marker without a reason, a
  near-miss spelling or a marker that is not right above a fence fails :func:`test_skip_markers`. Blocks in any
  other language (or none: command output, error messages) are text and do not run.
* The blocks of one file run in document order, each in its own process, in one scratch directory per file that
  looks like the repository root (links to its folders except ``runs/`` and ``.git``, and to ``pyproject.toml``),
  as if the reader typed them one after the other there: a block may use what an earlier block of the same file
  wrote (``runs/default``). Write only new paths under the working directory, never into the linked folders.
* Shell blocks run under ``bash -e -o pipefail`` with the test's virtual environment's ``bin/`` first on
  ``PATH`` (``jaxgan``, ``python``, ``python3``). Continuation lines are joined, and every command line that runs
  ``jaxgan train`` or ``scripts/train.py`` gets ``--steps 20`` (:data:`SHELL_STEPS`) appended, before its
  ``# comment`` (the last ``--steps`` wins): one command per line. A block that runs ``scripts/*.py`` fails
  instead of running when the venv's install stamp is stale, since the script would reinstall jaxgan into it.
* Python blocks run with the environment variable ``JAXGAN_EXAMPLE_STEPS`` set; a block that trains reads its
  step count from it with its full count as the default (``int(os.environ.get("JAXGAN_EXAMPLE_STEPS", 3000))``).
  The value is :data:`DEFAULT_PYTHON_STEPS`, or the one in :data:`SHORT_RUNS` for a block listed there by its
  file and section heading, with a check of what the shortened run prints.
* Files run side by side (as many at a time as there are CPU cores), so a block must not depend on another file's.

A block that fails (non-zero exit status, or its :data:`SHORT_RUNS` check) fails the test of its file with the
file, line, section, the block as run and the end of its output.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

pytestmark = pytest.mark.slow  # multi-process / end-to-end: deselected by the quick run (-m "not slow")

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python": "python", "py": "python", "bash": "shell", "sh": "shell", "shell": "shell"}
SKIP_MARKER = re.compile(r"<!-- readme-test: skip \((?P<reason>.*)\) -->")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+)\s*(?P<info>[^`]*)$")
SHELL_STEPS = 20
DEFAULT_PYTHON_STEPS = 100
TRAIN_COMMAND = re.compile(r"(?:^|[\s/])(?:jaxgan train|scripts/train\.py)(?=\s|$)")
BLOCK_TIMEOUT_S = 900


class Block(NamedTuple):
    """A fenced block: ``line`` is the 1-based line of its opening fence, ``heading`` the section it is in."""

    path: Path
    line: int
    language: str
    code: str
    heading: str
    skip_reason: str | None


class ShortRun(NamedTuple):
    """How a block runs in CI: ``JAXGAN_EXAMPLE_STEPS`` and a check of its stdout (raises AssertionError)."""

    steps: int
    check: Callable[[str], None]


def _ring_script_result(stdout: str) -> None:
    # At 1,000 steps (the schedule scales with the steps) the example printed "modes 8/8, high quality 88.2%,
    # reverse KL 0.001" on the project's 2-core CPU, 2026-12-01 (init_state seeds 1 and 2 instead of 0: 83.2 % and
    # 84.5 %); 80 % leaves room for another machine's float round-off, not for a broken recipe (500 steps: 3.0 %).
    m = re.search(r"modes (\d+)/8, high quality ([\d.]+)%, reverse KL ([\d.]+|inf)", stdout)
    assert m, "expected a last line like 'modes 8/8, high quality 96.6%, reverse KL 0.003'"
    assert int(m[1]) == 8 and float(m[2]) >= 80.0, f"the 1,000-step run should reach 8/8 modes, >= 80 %: {m[0]}"


SHORT_RUNS: dict[tuple[str, str], ShortRun] = {
    ("README.md", "Train a GAN from your own script"): ShortRun(1000, _ring_script_result),
}


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def parse(path: Path, text: str | None = None) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a Markdown file, and the problems with its skip markers (as ``file:line: ...``)."""
    lines = (path.read_text() if text is None else text).splitlines()
    blocks, problems = [], []
    heading, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("<!--") and "readme-test" in line:
            m = SKIP_MARKER.fullmatch(line.strip())
            if m is None:
                problems.append(
                    f"{_name(path)}:{i + 1}: malformed marker {line.strip()!r}; the only form is "
                    "'<!-- readme-test: skip (reason) -->'"
                )
            elif not m["reason"].strip():
                problems.append(
                    f"{_name(path)}:{i + 1}: skip marker without a reason; say why the block cannot "
                    "run here: '<!-- readme-test: skip (reason) -->'"
                )
            elif i + 1 >= len(lines) or not FENCE.match(lines[i + 1]):
                problems.append(
                    f"{_name(path)}:{i + 1}: skip marker not on the line immediately before a block's opening fence"
                )
        fence = FENCE.match(line)
        if fence is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            i += 1
            continue
        start, indent, ticks = i, len(fence["indent"]), fence["fence"]
        language = fence["info"].strip().split(" ")[0].lower() if fence["info"].strip() else ""
        body = []
        i += 1
        while i < len(lines) and not re.fullmatch(rf" {{0,3}}{ticks}`*\s*", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i].lstrip())
            i += 1
        if i == len(lines):
            problems.append(f"{_name(path)}:{start + 1}: a fenced block that is never closed")
        i += 1
        marker = SKIP_MARKER.fullmatch(lines[start - 1].strip()) if start > 0 else None
        reason = (marker["reason"].strip() or None) if marker else None  # no reason: runs (and fails the marker test)
        blocks.append(Block(path, start + 1, language, "\n".join(body) + "\n", heading, reason))
    return blocks, problems


def _split_comment(line: str) -> tuple[str, str]:
    """A shell line split into the command and its ``# comment`` (quotes respected)."""
    quote = None
    for j, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (j == 0 or line[j - 1].isspace()):
            return line[:j], line[j:]
    return line, ""


def with_short_steps(code: str, steps: int = SHELL_STEPS) -> str:
    """A shell block as the test runs it: continuation lines joined, ``--steps`` appended to training commands."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        if TRAIN_COMMAND.search(line):
            command, comment = _split_comment(line)
            line = f"{command.rstrip()} --steps {steps}" + (f"    {comment}" if comment else "")
        out.append(line)
    return "\n".join(out) + "\n"


def _scratch_root(tmp: Path) -> Path:
    for entry in ROOT.iterdir():
        if (entry.is_dir() and entry.name not in ("runs", ".git")) or entry.name == "pyproject.toml":
            (tmp / entry.name).symlink_to(entry)
    return tmp


def _venv_is_installed() -> bool:
    """Whether scripts/_bootstrap.py would leave this environment as it is (its stamp, the same digest)."""
    digest = hashlib.sha256()
    for f in [ROOT / "pyproject.toml", ROOT / f"constraints-py{sys.version_info.major}{sys.version_info.minor}.txt"]:
        if f.exists():
            digest.update(f.read_bytes())
    digest.update(b"dev")
    stamp = Path(sys.prefix) / ".jaxgan-installed-dev"
    return stamp.exists() and stamp.read_text() == digest.hexdigest()


def _run(block: Block, cwd: Path) -> tuple[str | None, float]:
    """Runs one block in ``cwd``; returns why it failed (None when it passed) and the seconds it took."""
    name = _name(block.path)
    if LANGUAGES[block.language] == "shell" and re.search(r"scripts/\w+\.py", block.code) and not _venv_is_installed():
        return (
            f"{name}:{block.line} runs a scripts/*.py command, which would reinstall jaxgan from {ROOT} into "
            f"{sys.prefix} (its install stamp does not match pyproject.toml and the constraints); this test does not "
            "change the environment: run `python3 scripts/test.py`, which brings the venv up to date first",
            0.0,
        )
    short = SHORT_RUNS.get((name, block.heading))
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # a reader's shell, not another test's
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JAXGAN_VENV"] = sys.prefix  # scripts/train.py: this environment, not a new one
    env["JAXGAN_EXAMPLE_STEPS"] = str(short.steps if short else DEFAULT_PYTHON_STEPS)
    if LANGUAGES[block.language] == "python":
        code, script = block.code, cwd / f"readme_block_{block.line}.py"
        command = [sys.executable, script.name]
    else:
        code, script = with_short_steps(block.code), cwd / f"readme_block_{block.line}.sh"
        command = ["bash", "-e", "-o", "pipefail", script.name]
    script.write_text(code)
    where = f"{name}:{block.line} (```{block.language} block in section {block.heading!r})"
    start = time.perf_counter()
    try:
        r = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        return (
            f"{where} ran over {BLOCK_TIMEOUT_S} s\n--- the block as run ---\n{code}"
            f"--- output (the end) ---\n{str(e.stdout or '')[-4000:]}",
            BLOCK_TIMEOUT_S,
        )
    seconds = time.perf_counter() - start
    output = (r.stdout + ("\n--- stderr ---\n" + r.stderr if r.stderr else ""))[-4000:]
    if r.returncode != 0:
        return (
            f"{where} failed with exit status {r.returncode}, and it has no '<!-- readme-test: skip (reason) -->' "
            "marker on the line before its fence. Fix the example (or the code it calls), or mark it with the "
            f"reason it cannot run here.\n--- the block as run (in {cwd}) ---\n{code}--- output (the end) ---\n"
            f"{output}",
            seconds,
        )
    if short is not None:
        try:
            short.check(r.stdout)
        except AssertionError as e:
            return (
                f"{where} ran with JAXGAN_EXAMPLE_STEPS={short.steps} but its result is not the one the "
                f"shortened run reaches: {e}\n--- stdout (the end) ---\n{r.stdout[-3000:]}",
                seconds,
            )
    return None, seconds


def _run_file(path: Path, cwd: Path) -> tuple[str | None, list[str]]:
    """Runs the file's blocks in order in ``cwd`` until one fails; returns its failure (None when all passed) and
    a line per block run with its time."""
    blocks, _ = parse(path)
    _scratch_root(cwd)
    times = []
    for block in blocks:
        if block.language in LANGUAGES and block.skip_reason is None:
            failure, seconds = _run(block, cwd)
            times.append(f"{_name(path)}:{block.line} ({block.heading}): {seconds:.1f} s")
            if failure is not None:
                return failure, times
    return None, times


@pytest.fixture(scope="module")
def file_runs(request, tmp_path_factory):
    """The runs of the selected files' blocks, started together: each file's blocks in order, the files side by
    side (a block's time is mostly one process starting and compiling on one core)."""
    paths = [
        item.callspec.params["path"]
        for item in request.session.items
        if item.path == Path(__file__) and item.name.startswith("test_blocks_run[")
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(len(paths), os.cpu_count() or 1))) as pool:
        yield {p: pool.submit(_run_file, p, tmp_path_factory.mktemp(p.stem)) for p in paths}


def test_skip_markers():
    """Every skip marker is well formed, has a reason and sits right above a fence; every SHORT_RUNS entry names
    a block that exists (a renamed section must not silently drop its check)."""
    problems, sections = [], set()
    for path in DOC_FILES:
        blocks, found = parse(path)
        problems += found
        sections |= {(_name(b.path), b.heading) for b in blocks if b.language in LANGUAGES}
    problems += [f"SHORT_RUNS entry {key} matches no runnable block" for key in SHORT_RUNS if key not in sections]
    assert not problems, "\n".join(problems)


def test_parse_and_shell_steps():
    text = (
        "# A\n<!-- readme-test: skip (needs a TPU) -->\n```bash\njaxgan train --config x  # go\n```\n"
        "<!-- readme-test: skip () -->\n```python\nprint(1)\n```\n<!-- readme-test: skip -->\n\n```\nout\n```\n"
    )
    blocks, problems = parse(Path("x.md"), text)
    assert [(b.line, b.language, b.heading, b.skip_reason) for b in blocks] == [
        (3, "bash", "A", "needs a TPU"),
        (7, "python", "A", None),
        (12, "", "A", None),
    ]
    assert len(problems) == 2 and "without a reason" in problems[0] and "malformed" in problems[1]
    assert with_short_steps(blocks[0].code) == "jaxgan train --config x --steps 20    # go\n"
    assert with_short_steps("python3 scripts/train.py\njaxgan sample \\\n  --n 2 # '#'\n") == (
        "python3 scripts/train.py --steps 20\njaxgan sample    --n 2 # '#'\n"
    )


@pytest.mark.parametrize("path", DOC_FILES, ids=_name)
def test_blocks_run(path, file_runs):
    """The file's runnable blocks, in order, in one scratch copy of the repository root."""
    failure, times = file_runs[path].result()
    print("\n".join(times))  # shown by pytest -rP
    if failure is not None:
        pytest.fail(failure, pytrace=False)
