"""Save-time validation, and the same mistakes caught again at run time."""

from __future__ import annotations

import pytest

from handoff.runner import CodeProblem, ErrorKind, RunnerPool, module_available, validate_code

GOOD = "import json\nimport requests\n\ndef main(event, context):\n    return {}\n"


def test_good_code_has_no_problems() -> None:
    assert validate_code(GOOD) == []


def test_syntax_error_has_line_and_column() -> None:
    problems = validate_code("def main(event, context):\n    return {'a': 1\n")
    assert len(problems) == 1
    assert problems[0].line == 2 and problems[0].column == 12
    assert problems[0].message.startswith("SyntaxError:")


def test_compiler_errors_are_syntax_errors_too() -> None:
    (problem,) = validate_code("return 1\ndef main(event, context):\n    pass\n")
    assert (problem.line, problem.message) == (1, "SyntaxError: 'return' outside function")


@pytest.mark.parametrize(
    ("code", "line", "hint"),
    [
        ("def handler(event, context):\n    pass\n", 1, "must define def main(event, context)"),
        ("x = 1\n\ndef main(event):\n    pass\n", 3, "main(event) must take exactly two"),
        ("def main(event, context, extra):\n    pass\n", 1, "exactly two"),
        ("def main(*args):\n    pass\n", 1, "exactly two"),
        ("def main(event, context, *, flag):\n    pass\n", 1, "exactly two"),
        ("async def main(event, context):\n    pass\n", 1, "plain function"),
    ],
)
def test_main_must_exist_with_two_parameters(code: str, line: int, hint: str) -> None:
    (problem,) = validate_code(code)
    assert problem.line == line
    assert hint in problem.message


def test_main_bound_another_way_is_accepted() -> None:
    assert validate_code("main = lambda event, context: {}\n") == []


def test_unavailable_imports_are_listed_with_positions() -> None:
    code = (
        "import json\nimport not_a_real_module_xyz\n\ndef main(event, context):\n"
        "    from handoff import runner\n    from . import sibling\n    return {}\n"
    )
    problems = validate_code(code)
    assert [(p.line, p.column) for p in problems] == [(2, 1), (5, 5), (6, 5)]
    assert "'not_a_real_module_xyz' is not available" in problems[0].message
    assert "'handoff' is not available" in problems[1].message  # the server is not mounted
    assert "relative imports" in problems[2].message


def test_module_availability_follows_the_sandbox_mounts() -> None:
    assert module_available("json") and module_available("sys")
    assert module_available("requests") and module_available("pytz")
    assert not module_available("handoff")
    assert not module_available("not_a_real_module_xyz")


def test_problem_shape_is_line_column_message() -> None:
    assert CodeProblem(line=1, column=2, message="m").model_dump() == {
        "line": 1,
        "column": 2,
        "message": "m",
    }
    assert validate_code("x" * 50, max_chars=10)[0].message.endswith("the limit is 10")


async def test_runtime_reports_syntax_error_with_line(pool: RunnerPool) -> None:
    out = await pool.run("bot-v", "bad", "def main(event, context):\n    return (\n", {})
    assert out.error is not None and out.error.kind == ErrorKind.SYNTAX_ERROR
    assert out.error.line is not None and out.error.line >= 2


async def test_runtime_reports_missing_main(pool: RunnerPool) -> None:
    out = await pool.run("bot-v", "nomain", "x = 1\n", {})
    assert out.error is not None and out.error.kind == ErrorKind.SYNTAX_ERROR
    assert "main(event, context)" in out.error.message


async def test_exception_has_user_line_and_trimmed_traceback(pool: RunnerPool) -> None:
    code = (
        "import json\n\ndef helper(d):\n    return d['missing']\n\n"
        "def main(event, context):\n    return helper({})\n"
    )
    out = await pool.run("bot-v", "boom", code, {})
    assert out.error is not None and out.error.kind == ErrorKind.EXCEPTION
    assert out.error.message == "KeyError: 'missing'"
    assert out.error.line == 4
    assert out.error.traceback is not None
    assert 'File "action.py", line 7, in main' in out.error.traceback
    assert "return d['missing']" in out.error.traceback
    assert "handoff_worker" not in out.error.traceback  # only the bot's own frames


async def test_exception_in_module_init_is_reported(pool: RunnerPool) -> None:
    out = await pool.run(
        "bot-v", "init", "import json\nx = 1 / 0\ndef main(event, context):\n    return {}\n", {}
    )
    assert out.error is not None and out.error.kind == ErrorKind.EXCEPTION
    assert out.error.line == 2 and "ZeroDivisionError" in out.error.message
