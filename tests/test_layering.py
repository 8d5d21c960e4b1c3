"""The layers point one way: `deploy` builds the services, and no service reaches back into `deploy`.

A service package that imports `deploy` (even inside a function) can only be wired by reading the whole
configuration itself, so it cannot be built, or tested, from its own settings; and `rules/` holds the policy
that every service shares, so it must not depend on one service's protocol library. Every `.py` file is
parsed, and every import statement in it is looked at, wherever it sits.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("dns_block", "filter_proxy", "admin_web", "rules")
RULES_MAY_NOT_USE = ("mitmproxy", "dnslib", "flask")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every import in the file; relative imports stay in their package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return sorted(found)


def offending(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {module}"
            for package in packages for path in sorted((ROOT / package).rglob("*.py"))
            for line, module in imported_modules(path) if module in forbidden]


def test_no_service_package_imports_deploy() -> None:
    assert offending(SERVICES, ("deploy",)) == []


def test_rules_imports_no_protocol_library() -> None:
    assert offending(("rules",), RULES_MAY_NOT_USE) == []


def test_the_check_sees_a_function_local_import(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def wire():\n    from deploy.config import load_config\n    import deploy\n")
    assert imported_modules(module) == [(2, "deploy"), (3, "deploy")]
