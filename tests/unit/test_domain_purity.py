"""clinicqueue is pure Python: it imports nothing from Flask, SQLAlchemy or app/."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import clinicqueue

PACKAGE = Path(clinicqueue.__file__).parent
FORBIDDEN_ROOTS = {"flask", "flask_login", "flask_socketio", "flask_sqlalchemy", "flask_wtf"}
FORBIDDEN_ROOTS |= {"sqlalchemy", "app", "werkzeug", "kiosk", "socketio", "engineio"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside clinicqueue
                continue
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_modules_import_only_the_standard_library_and_themselves():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert modules, "clinicqueue has no modules?"
    allowed = set(sys.stdlib_module_names) | {"__future__", "clinicqueue"}

    for module in modules:
        outside = _imported_roots(module) - allowed
        assert not outside, f"{module.name} imports {sorted(outside)}"


def test_importing_the_domain_loads_no_framework_orm_or_app_module():
    code = (
        "import json, sys\n"
        "import clinicqueue, clinicqueue.request, clinicqueue.visit, clinicqueue.events\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}

    assert "clinicqueue" in loaded
    assert not loaded & FORBIDDEN_ROOTS
