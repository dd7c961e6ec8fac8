"""Pure rendering of child objects: custom resource + operator config -> Kubernetes dicts.

Nothing here does I/O or imports a Kubernetes client (an import-linter contract says so);
local mode (`modelplane run`) renders with the same functions. `isvc` renders an
InferenceService's children, `graph` an InferenceGraph's; the other modules are the pieces
they share. Import from the submodules: this package imports nothing, so none of them
depends on it.
"""
