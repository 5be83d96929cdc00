"""Prompt templates, one file each, loaded by name; rendering checks the declared variables."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib import resources


class PromptError(KeyError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    template: str

    @property
    def variables(self) -> set[str]:
        return {field for _, field, _, _ in string.Formatter().parse(self.template) if field}

    def render(self, **values: str) -> str:
        missing = self.variables - values.keys()
        if missing:
            msg = f"prompt {self.name!r} needs {sorted(self.variables)}; missing {sorted(missing)}, given {sorted(values)}"
            raise PromptError(msg)
        return self.template.format(**values)


@cache
def load(name: str) -> Prompt:
    path = resources.files(__package__).joinpath(f"{name}.txt")
    if not path.is_file():
        known = sorted(p.name.removesuffix(".txt") for p in resources.files(__package__).iterdir() if p.name.endswith(".txt"))
        raise PromptError(f"no prompt named {name!r}; known: {', '.join(known)}")
    return Prompt(name, path.read_text(encoding="utf-8"))
