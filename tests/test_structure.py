"""The layers of the code, read from its imports (``ast``), never from a list kept by hand.

    qiro          the core: settings, database plumbing, the tenant context; knows no feature app
    tenants       companies and their schemas          may use qiro, sysauth
    sysauth       users, roles, sessions of a company  may use qiro, tenants
    registration  sign-up and review                   may use qiro, tenants, sysauth
    deployments   backups, verification, deploys       may use every app above
    api           the programmatic interface           may use every app above
    bench         benchmarks                           free

The URL files of ``qiro`` are the one place that wires feature apps in (they
name views, as ``settings`` names apps). Module-level imports form no cycle,
and no import inside a function hides one (outside ``AppConfig.ready``). No
module of ours, tests included, is longer than ``MAX_LINES`` (migrations aside).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("qiro", "tenants", "sysauth", "registration", "deployments", "api", "bench")
FEATURES = ("tenants", "sysauth", "registration", "deployments", "api")
MAY_USE: dict[str, set[str]] = {
    "qiro": {"qiro"},
    "tenants": {"qiro", "tenants", "sysauth"},
    "sysauth": {"qiro", "sysauth", "tenants"},
    "registration": {"qiro", "registration", "tenants", "sysauth"},
    "deployments": {"qiro", "tenants", "sysauth", "registration", "deployments"},
    "api": {"qiro", "tenants", "sysauth", "registration", "deployments", "api"},
    "bench": set(OURS),
}
WIRING = ("qiro/urls_public.py", "qiro/urls_tenant.py")
# Packages checked for cycles and function-level imports: our code, not bench.
LIBRARY = ("qiro", "tenants", "registration", "deployments")
# Known and accepted, each with its reason. Nothing else may join.
ACCEPTED_CYCLES = [
    # Django finds an app's models through its models module, which imports
    # the app's other model modules at its end; they import its base model.
    ["deployments.models", "deployments.scheduling.models"],
]
ACCEPTED_FUNCTION_IMPORTS = {
    # The leases name the column defaults that the models (and landed
    # migrations) refer to as ``deployments.leases.*``; their queries load the models.
    "deployments/leases.py": "deployments.models",
    # Activation refreshes the kept figures that the slow creation path writes too.
    "tenants/provisioning.py": "tenants.services",
}


def sources(package: str, root: Path = ROOT) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the root, parsed module) of a package, migrations aside."""
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if "/migrations/" not in relative:
            yield relative, ast.parse(path.read_text(encoding="utf-8"), relative)


def module_name(relative: str) -> str:
    name = relative.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def imported(node: ast.AST) -> list[str]:
    """Modules named by an import statement (``from a import b`` names ``a`` and ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def type_checking_blocks(tree: ast.Module) -> set[int]:
    """ids of the statements under ``if TYPE_CHECKING:`` (types only, never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return found


def layer_violations(root: Path = ROOT) -> list[str]:
    found = []
    for package in MAY_USE:
        if not (root / package).is_dir():
            continue
        for relative, tree in sources(package, root):
            if relative in WIRING:
                continue
            for node in ast.walk(tree):
                for name in imported(node):
                    top = name.split(".", 1)[0]
                    if top in OURS and top not in MAY_USE[package]:
                        found.append(
                            f"{relative}:{getattr(node, 'lineno', 0)}: {package} imports {name}"
                        )
    return sorted(set(found))


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module-level imports between our modules (the ones run when a module is loaded)."""
    modules: dict[str, ast.Module] = {}
    for package in (*LIBRARY, "sysauth"):
        for relative, tree in sources(package, root):
            modules[module_name(relative)] = tree
    graph: dict[str, set[str]] = {}
    for name, tree in modules.items():
        skip = type_checking_blocks(tree)
        targets: set[str] = set()
        todo: list[ast.AST] = list(tree.body)
        while todo:
            node = todo.pop()
            if id(node) in skip or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            targets |= {t for t in imported(node) if t in modules and t != name}
            todo += ast.iter_child_nodes(node)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def cycle_dodging_imports(root: Path = ROOT) -> list[str]:
    """Imports of our code inside functions whose target imports the importer back.

    Such an import only hides a cycle; ``AppConfig.ready`` is left alone (the
    apps are not loaded when ``apps.py`` is).
    """
    graph = module_graph(root)
    found = []
    for package in LIBRARY:
        for relative, tree in sources(package, root):
            name = module_name(relative)
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if function.name == "ready" and relative.endswith("apps.py"):
                    continue
                for node in ast.walk(function):
                    for target in imported(node):
                        if target in graph and name in reachable(graph, target) | {target}:
                            found.append(f"{relative}:{getattr(node, 'lineno', 0)}: {target}")
    return sorted(set(found))


def test_a_violation_of_each_kind_is_seen(tmp_path):
    (tmp_path / "qiro").mkdir()
    (tmp_path / "qiro" / "views.py").write_text("from sysauth.views import home\n")
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "a.py").write_text("import tenants.b\n")
    (tmp_path / "tenants" / "b.py").write_text(
        "import tenants.a\n\ndef f():\n    from deployments import pg\n"
    )
    (tmp_path / "tenants" / "c.py").write_text("import tenants.d\n")
    (tmp_path / "tenants" / "d.py").write_text("def f():\n    import tenants.c\n")
    assert layer_violations(tmp_path) == [
        "qiro/views.py:1: qiro imports sysauth.views",
        "qiro/views.py:1: qiro imports sysauth.views.home",
        "tenants/b.py:4: tenants imports deployments",
        "tenants/b.py:4: tenants imports deployments.pg",
    ]
    assert cycles(module_graph(tmp_path)) == [["tenants.a", "tenants.b"]]
    assert cycle_dodging_imports(tmp_path) == ["tenants/d.py:2: tenants.c"]


def test_each_package_imports_only_the_layers_it_may_use():
    assert layer_violations() == []


def test_module_level_imports_form_no_cycle():
    assert cycles(module_graph()) == ACCEPTED_CYCLES


def test_no_import_inside_a_function_hides_a_cycle():
    found = [
        line
        for line in cycle_dodging_imports()
        if ACCEPTED_FUNCTION_IMPORTS.get(line.split(":", 1)[0]) != line.rsplit(" ", 1)[1]
    ]
    assert found == []


MAX_LINES = 400


def long_modules(root: Path = ROOT) -> list[str]:
    """Our modules (tests too, migrations aside) of more than ``MAX_LINES`` lines."""
    found = []
    for package in (*OURS, "tests"):
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if "/migrations/" not in relative and lines > MAX_LINES:
                found.append(f"{relative}: {lines} lines")
    return found


def test_a_long_module_is_seen(tmp_path):
    (tmp_path / "tenants" / "migrations").mkdir(parents=True)
    (tmp_path / "tenants" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "tenants" / "fits.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "tenants" / "migrations" / "0001_long.py").write_text("x = 1\n" * 1000)
    assert long_modules(tmp_path) == [f"tenants/long.py: {MAX_LINES + 1} lines"]


def test_no_module_of_ours_is_over_the_limit():
    assert long_modules() == []
