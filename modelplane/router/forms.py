"""Which outputs a REST client asked to receive as binary data (V2's binary tensor
extension), pure: ``binary_data_output`` (or a request sent in binary) sets the default, and
a requested output's own ``binary_data`` overrides it for that name, as the model server
reads them. Raw tensors are written binary only where asked; a tensor that is JSON data stays
JSON (the extension lets a server answer an output in JSON though binary was asked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutputForms:
    """The default form (binary or not) and the outputs asked in another, by name."""

    default: bool = False
    by_name: Mapping[str, bool] = field(default_factory=dict)

    @property
    def any_binary(self) -> bool:
        return self.default or any(self.by_name.values())

    def binary(self, name: str) -> bool:
        return self.by_name.get(name, self.default)


ALL_BINARY = OutputForms(default=True)
ALL_JSON = OutputForms()
