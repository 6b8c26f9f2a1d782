"""The shape of the package: imports run one way, the benchmarking room stays apart, no module shadows a
real package. Read from the source (AST), so a circle is found even where Python would tolerate it."""

import ast
import importlib.util
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_famous"
# Modules allowed to import lazily inside functions: the CLI (each subcommand imports what it runs) and the
# benchmarking room (workers import the engines they time).
LAZY_IMPORTERS = ("keras_famous.cli", "keras_famous.benchmarks")


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module, node):
    """The keras_famous modules an import statement names (a `from . import x` names module `x` when it is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("keras_famous")]
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    if node.level:
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("keras_famous"):
        return []
    names = [f"{target}.{alias.name}" for alias in node.names]
    submodules = [name for name in names if name in MODULES]
    return submodules + ([target] if len(submodules) < len(names) else [])


def _imports(module):
    """(module-level imports, function-level imports) of keras_famous modules in `module`."""
    tree = ast.parse(MODULES[module].read_text())
    top, nested = set(), set()

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                (nested if in_function else top).update(_resolve(module, child))
            visit(child, inside)

    visit(tree, False)
    return top, nested


IMPORTS = {module: _imports(module) for module in MODULES}


def test_the_walk_sees_the_package():
    assert {"keras_famous.registry", "keras_famous.convert", "keras_famous.models.resnet"} <= set(MODULES)
    assert "keras_famous.convert" in IMPORTS["keras_famous.weights"][0]
    assert "keras_famous.weights" in IMPORTS["keras_famous.applications"][0]


def _find_cycle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle():
    """Module-level and function-level imports together: a function-level import must not hold a circle apart."""
    edges = {module: (top | nested) - {module} for module, (top, nested) in IMPORTS.items()}
    edges["keras_famous"] = set()  # the package root loads its names when first used; nothing imports it back
    assert _find_cycle(edges) is None, " -> ".join(_find_cycle(edges))


def test_no_function_level_imports_outside_the_cli_and_benchmarks():
    lazy = {
        module: sorted(nested)
        for module, (_, nested) in IMPORTS.items()
        if nested and not module.startswith(LAZY_IMPORTERS)
    }
    assert not lazy, f"function-level imports of keras_famous modules: {lazy}"


@pytest.mark.parametrize(
    "low, high",
    [
        (
            "keras_famous.convert",
            ("keras_famous.models", "keras_famous.applications", "keras_famous.registry", "keras_famous.weights"),
        ),
        ("keras_famous.weights", ("keras_famous.models", "keras_famous.applications", "keras_famous.registry")),
        ("keras_famous.models", ("keras_famous.registry", "keras_famous.convert")),
        ("keras_famous.spec", ("keras_famous.",)),
        ("keras_famous.graph", ("keras_famous.",)),
        ("keras_famous.files", ("keras_famous.",)),
        ("keras_famous.quiet", ("keras_famous.",)),
        ("keras_famous.arguments", ("keras_famous.",)),
        ("keras_famous.catalog", ("keras_famous.",)),
    ],
)
def test_imports_point_down(low, high):
    for module, (top, nested) in IMPORTS.items():
        if module == low or module.startswith(low + "."):
            upward = sorted(
                name
                for name in top | nested
                if name.startswith(high) and not name.startswith(low) and name != "keras_famous.arguments"
            )  # any module may name its arguments through the `arguments` leaf
            assert not upward, f"{module} imports {upward}"


def test_no_runtime_module_imports_the_benchmarks():
    for module, (top, nested) in IMPORTS.items():
        if not module.startswith(LAZY_IMPORTERS):
            assert not any(name.startswith("keras_famous.benchmarks") for name in top | nested), module


def test_no_module_shadows_an_installed_package():
    """A module whose folder is sys.path[0] (a script run by path) would hide a real package of its name."""
    for module, path in MODULES.items():
        name = path.stem if path.name != "__init__.py" else path.parent.name
        found = importlib.util.find_spec(name) if name not in ("__init__", "__main__", "keras_famous") else None
        origin = pathlib.Path(found.origin).resolve() if found and found.origin else None
        assert found is None or origin is None or PACKAGE in origin.parents, f"{module} shadows {name} ({origin})"
