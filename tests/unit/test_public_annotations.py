"""Every public function of the project's packages carries type hints (STYLE.md, issue 6).

Public: a module-level function or a method whose own name, class name and module name do not
start with an underscore. Every parameter but ``self``/``cls`` needs an annotation, and the
function needs a return annotation (``__init__`` excepted). ruff's ANN rules cannot tell public
from private parameters, so this walks the source itself.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("backupctl", "recovery", "targets", "policies")


def _modules() -> list[pathlib.Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not any(
            part.startswith("_") and part != "__init__.py" for part in path.relative_to(ROOT).parts
        )
    )


def _public_functions(tree: ast.Module):
    """Yield (qualified name, node) of the public functions and methods of a module."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith(
            "_"
        ):
            yield node.name, node
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not member.name.startswith("_") or member.name == "__init__"
                ):
                    yield f"{node.name}.{member.name}", member


def missing_annotations(source: str) -> list[str]:
    """Given a module's source, return 'name: what is missing' for each public function."""
    problems = []
    for name, node in _public_functions(ast.parse(source)):
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
        bare = [
            arg.arg for arg in every if arg.annotation is None and arg.arg not in ("self", "cls")
        ]
        if bare:
            problems.append(f"{name}: parameters {', '.join(bare)}")
        if node.returns is None and node.name != "__init__":
            problems.append(f"{name}: return")
    return problems


def test_the_checker_finds_a_missing_hint():
    source = (
        "def f(a, b: int):\n    pass\n"
        "class C:\n    def g(self) -> None: ...\n    def h(self, x): ...\n"
    )
    assert missing_annotations(source) == [
        "f: parameters a",
        "f: return",
        "C.h: parameters x",
        "C.h: return",
    ]


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_public_functions_are_annotated(path: pathlib.Path):
    assert missing_annotations(path.read_text(encoding="utf-8")) == []
