"""import-linter contract type ``stdlib_only``: a package imports only itself and the stdlib.

A ``forbidden`` contract names what may not be imported, so a dependency added later (say a
template engine) would slip past it. This one names what may be: the package itself and
``sys.stdlib_module_names``. It needs ``include_external_packages = true``, which makes grimp
record every imported top-level name, standard library included.
"""

from __future__ import annotations

import sys

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.helpers import module_expressions_to_modules


class StdlibOnlyContract(Contract):
    type_name = "stdlib_only"

    source_modules = fields.SetField(subfield=fields.ModuleExpressionField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        found: list[dict[str, object]] = []
        sources = module_expressions_to_modules(graph, self.source_modules)  # type: ignore[arg-type]
        for source in sorted(sources, key=lambda m: m.name):
            package = source.name
            for module in sorted({package} | graph.find_descendants(package)):
                for imported in sorted(graph.find_modules_directly_imported_by(module)):
                    if imported == package or imported.startswith(package + "."):
                        continue
                    if imported.split(".")[0] in sys.stdlib_module_names:
                        continue
                    lines = sorted(d["line_number"] for d in graph.get_import_details(
                        importer=module, imported=imported))
                    found.append({"importer": module, "imported": imported, "lines": lines})
        return ContractCheck(kept=not found, warnings=None, metadata={"imports": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for row in check.metadata["imports"]:
            lines = ", ".join(f"l.{n}" for n in row["lines"])
            output.print_error(
                f"{row['importer']} imports {row['imported']} ({lines}), which is neither "
                "the package itself nor the standard library", bold=False)
            output.new_line()
