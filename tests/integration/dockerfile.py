"""Reading the Dockerfile as Docker would: its stages, instructions and build context.

For tests/integration/test_image.py and test_compose.py (no Docker daemon here).
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (each starts at its FROM)."""
    found: list[list[dict[str, Any]]] = []
    for item in DockerfileParser(path=str(DOCKERFILE)).structure:
        if item["instruction"] == "FROM":
            found.append([])
        if found and item["instruction"] != "COMMENT":
            found[-1].append(item)
    return found


def values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"{value!r}: use the exec (JSON list) form"
    return [str(x) for x in parsed]


def image_env() -> dict[str, str]:
    return dict(DockerfileParser(path=str(DOCKERFILE)).envs)


def healthcheck_command() -> list[str]:
    health = values(stages()[-1], "HEALTHCHECK")[-1]
    return exec_form(health.split("CMD", 1)[1].strip())


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last pattern that matches a path decides; ``!`` lets it in."""
    allowed = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            allowed = negate
    return allowed


def build_context_sources() -> list[str]:
    """What the builder stage COPYs from the build context."""
    sources: list[str] = []
    for value in values(stages()[0], "COPY"):
        *srcs, _dest = shlex.split(value)
        sources += [s for s in srcs if not s.startswith("--")]
    return sources


def data_files() -> list[str]:
    """Every file pyproject.toml ships as a data file (the presets, the demo page)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["data-files"].values()
    return sorted(
        str(p.relative_to(ROOT)) for g in globs for pattern in g for p in ROOT.glob(pattern)
    )


def context_files(source: str) -> list[str]:
    """The files under a COPY source that reach the build context (Docker walks an
    excluded folder for the files a ``!`` pattern lets back in)."""
    path = ROOT / source
    found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sorted(rel for p in found if dockerignore_allows(rel := str(p.relative_to(ROOT))))
