"""Static checks run when a bot builder saves an action, before any of it runs.

Findings are ``CodeProblem(line, column, message)`` so the editor can underline
them: syntax errors, a missing or mis-shaped ``main``, and imports the runner
cannot satisfy.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
from collections.abc import Callable

from .models import CodeProblem
from .sandbox import python_paths
from .worker.runtime import USER_FILENAME

__all__ = ["module_available", "validate_code"]

_SIGNATURE = "def main(event, context):"


@functools.cache
def _roots() -> tuple[str, ...]:
    return (*(os.path.join(p, "") for p in python_paths()), "/usr/")


@functools.lru_cache(maxsize=2048)
def module_available(name: str) -> bool:
    """Whether top-level module ``name`` can be imported inside the sandbox.

    ``find_spec`` on a top-level name imports nothing. A module is available
    only if it is built in or lives under a path the sandbox mounts: the
    server's own package and anything found through its working directory are
    not there.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.origin in ("built-in", "frozen"):
        return True
    places = [spec.origin, *(spec.submodule_search_locations or ())]
    return any(p and os.path.realpath(p).startswith(_roots()) for p in places)


def _binds_main(node: ast.stmt) -> bool:
    """Whether a top-level statement other than ``def`` binds the name ``main``."""
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == "main" for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == "main"
    if isinstance(node, ast.Import | ast.ImportFrom):
        return any((a.asname or a.name) == "main" for a in node.names)
    return False


def _main_problems(tree: ast.Module) -> list[CodeProblem]:
    main: ast.stmt | None = None
    bound_otherwise = False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main":
            main = node
        elif _binds_main(node):
            bound_otherwise = True
    if main is None:
        if bound_otherwise:  # main = ... : cannot be checked statically
            return []
        return [
            CodeProblem(
                line=1,
                column=1,
                message=f"the code must define {_SIGNATURE} at the top level; the runtime calls it",
            )
        ]
    where = {"line": main.lineno, "column": main.col_offset + 1}
    if isinstance(main, ast.AsyncFunctionDef):
        return [CodeProblem(**where, message=f"main must be a plain function: {_SIGNATURE}")]
    assert isinstance(main, ast.FunctionDef)
    args = main.args
    positional = len(args.posonlyargs) + len(args.args)
    required_kwonly = sum(d is None for d in args.kw_defaults)
    if positional != 2 or args.vararg is not None or required_kwonly:
        names = [a.arg for a in [*args.posonlyargs, *args.args]]
        return [
            CodeProblem(
                **where,
                message=f"main({', '.join(names)}) must take exactly two parameters: {_SIGNATURE}",
            )
        ]
    return []


def _import_problems(tree: ast.Module, is_available: Callable[[str], bool]) -> list[CodeProblem]:
    problems: list[CodeProblem] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
            if node.level:
                problems.append(
                    CodeProblem(
                        line=node.lineno,
                        column=node.col_offset + 1,
                        message="relative imports cannot work: an action is a single file",
                    )
                )
                continue
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top and top != "__future__" and not is_available(top):
                problems.append(
                    CodeProblem(
                        line=node.lineno,
                        column=node.col_offset + 1,
                        message=f"module {top!r} is not available in the runner; see the "
                        "supported packages in docs/custom-actions.md",
                    )
                )
    return problems


def validate_code(
    code: str,
    *,
    is_available: Callable[[str], bool] = module_available,
    max_chars: int | None = None,
) -> list[CodeProblem]:
    """Every problem found in ``code`` without running it; empty means it may be saved."""
    if max_chars is not None and len(code) > max_chars:
        return [
            CodeProblem(
                line=1,
                column=1,
                message=f"the code is {len(code)} characters; the limit is {max_chars}",
            )
        ]
    try:
        # compile, not just ast.parse: some errors ('return' outside a function,
        # nonlocal at module level) come from the compiler, not the parser.
        compile(code, USER_FILENAME, "exec", dont_inherit=True)
        tree = ast.parse(code, filename=USER_FILENAME)
    except SyntaxError as exc:
        return [
            CodeProblem(
                line=exc.lineno or 1, column=exc.offset or 1, message=f"SyntaxError: {exc.msg}"
            )
        ]
    except ValueError as exc:  # null bytes
        return [CodeProblem(line=1, column=1, message=f"SyntaxError: {exc}")]
    return _main_problems(tree) + _import_problems(tree, is_available)
