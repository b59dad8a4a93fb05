"""Issue 16: one owner for every table, held by contracts that run with the tests.

`lint-imports` checks the contracts in pyproject.toml (each feature's `tables` imported only by
that feature, the schema, the migrations and the read model; the features in floors, none beside
another; no circle between packages below the entry floor). The read side (supervision,
oversight, the lake) may read the read model's tables but never write them."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "zhengxin"
READ_SIDE = ("supervision", "oversight", "lake")


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")}
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert ", 0 broken" in run.stdout, run.stdout[-2000:]


@pytest.mark.parametrize("feature", READ_SIDE)
def test_the_read_side_never_writes_what_it_reads(feature):
    import zhengxin.read_model as read_model

    declared = set(read_model.__all__)
    writes = []
    for path in sorted((SRC / feature).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("insert", "update", "delete") and node.args
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in declared):  # fmt: skip
                writes.append(f"{path.relative_to(SRC)}:{node.lineno} {node.func.id}({node.args[0].id})")
    assert writes == []


def test_no_file_imports_another_features_tables():
    """The contracts, read directly: a second line of defence that names the file."""
    crossing = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).parts
        own = parts[0] if len(parts) > 1 else None
        if own == "migrations" or parts[-1] in ("schema.py", "read_model.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zhengxin."):
                names = node.module.split(".")
                if names[-1] == "tables" and names[1] != own:
                    crossing.append(f"{path.relative_to(SRC)} -> {node.module}")
    assert crossing == []


def test_no_module_imports_itself_through_others():
    """No import circle between modules (imports inside functions count too): a new one fails
    here with the circle it makes."""
    import grimp

    graph = grimp.build_graph("zhengxin", cache_dir=None)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    try:
        TopologicalSorter(imports).prepare()
    except CycleError as circle:
        pytest.fail(f"an import circle: {' -> '.join(circle.args[1])}")


def test_every_sealed_column_is_registered_for_key_rotation():
    """A ciphertext column no rotation knows of would stay under an old key forever: every
    binary column outside the vault's own table is declared in kit.sealing."""
    from sqlalchemy import LargeBinary

    import zhengxin.schema
    from zhengxin.kit.sealing import REGISTRY

    registered = {(spec.table.name, column) for spec in REGISTRY for column in spec.texts}
    binary = {
        (table.name, column.name)
        for table in zhengxin.schema.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, LargeBinary) and table.name != "pii_vault"
    }
    binary -= {("log_leaves", "leaf_hash"), ("log_nodes", "hash")}  # the log's hashes: nothing secret
    binary -= {("federation_psi_runs", "pending")}  # doubly blinded group elements: no key of ours opens them
    assert binary and binary == registered


def test_no_function_runs_over_80_lines():
    """Outside the migrations and the synthetic generator: a longer function mixes jobs."""
    long = []
    for path in sorted(SRC.rglob("*.py")):
        if {"migrations", "synth"} & set(path.relative_to(SRC).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert long == []
