"""``ModuleList``: a list of sub-modules whose parameters the parent module sees."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tinygrad_rnn.nn.module import Module


class ModuleList(Module):
    """Hold sub-modules in a list, as ``torch.nn.ModuleList``: indexable, iterable,
    ``append``/``extend``/``insert``; they are registered under the names "0", "1", ...
    (so ``parameters()`` and ``state_dict()`` see them). It has no ``forward``: the owner
    decides how to call them::

        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        ...
        for layer in self.layers:
            x = layer(x).tanh()
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list[Module]:
        return list(self._modules.values())

    def _reset(self, items: list[Module]) -> None:
        """Register ``items`` as "0", "1", ... (after an insert or a deletion)."""
        for i, m in enumerate(items):
            if not isinstance(m, Module):
                raise TypeError(f"ModuleList: item {i} is a {type(m).__name__}, not a Module")
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._items()[index])
        return self._items()[index]

    def __setitem__(self, index: int, module: Module) -> None:
        items = self._items()
        items[index] = module
        self._reset(items)

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        del items[index]
        self._reset(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def append(self, module: Module) -> ModuleList:
        self._reset([*self._items(), module])
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError(f"ModuleList.extend: expects an iterable of modules, got the "
                            f"module {type(modules).__name__}; use append")
        self._reset([*self._items(), *modules])
        return self

    def insert(self, index: int, module: Module) -> None:
        items = self._items()
        items.insert(index, module)
        self._reset(items)
