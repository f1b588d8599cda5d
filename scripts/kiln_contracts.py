"""A contract type for import-linter that its own types cannot say: "these packages import only the
standard library" (and, optionally, named modules of ours). A forbidden contract lists what may not be
imported, so anything not yet listed slips through; this one lists what may.

Loaded by `lint-imports` through `contract_types` in pyproject.toml (scripts/check puts this folder on
the path).
"""

from __future__ import annotations

import sys

import grimp
from importlinter import Contract, ContractCheck, fields, output


class StandardLibraryOnly(Contract):
    """Every module of `source_modules` (packages, with their descendants) imports only the standard
    library, itself, and `allowed_modules`. Being about direct imports of a closed set, it leaves no
    indirect way in: whatever such a module imports is held to the same rule."""

    type_name = "stdlib_only"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    allowed_modules = fields.ListField(subfield=fields.ModuleField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        allowed = [m.name for m in self.allowed_modules or []]  # type: ignore[attr-defined]
        found = []
        for source in self.source_modules:  # type: ignore[attr-defined]
            package = source.name
            for importer in sorted({package, *graph.find_descendants(package)}):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if _fine(imported, package, allowed):
                        continue
                    for detail in graph.get_import_details(importer=importer, imported=imported):
                        found.append((importer, imported, detail["line_number"], detail["line_contents"]))
        return ContractCheck(kept=not found, metadata={"imports": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, line, text in check.metadata["imports"]:
            output.print_error(f"{importer} imports {imported}, which is not the standard library:")
            output.indent_cursor()
            output.print_error(f"{importer}:{line}: {text}", bold=False)
            output.new_line()


def _fine(imported: str, package: str, allowed: list[str]) -> bool:
    if imported == package or imported.startswith(package + "."):
        return True
    if any(imported == a or imported.startswith(a + ".") for a in allowed):
        return True
    return imported.split(".")[0] in sys.stdlib_module_names
