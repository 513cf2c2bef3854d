"""The modkit layer's errors: one base, subclasses that name what failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ModkitError(Exception):
    """Base of every error raised by plugway.modkit on bad input or a failed lifecycle."""


class ModuleDeclarationError(ModkitError):
    """A class given to ``@module`` (or used as a module) is not a valid module declaration."""


class UnknownDependencyError(ModkitError):
    """A module depends on a module that is not present (or not enabled)."""

    def __init__(self, module: str, dependency: str, reason: str = "unknown module") -> None:
        self.module = module
        self.dependency = dependency
        super().__init__(f"module '{module}' depends on '{dependency}': {reason}")


class DependencyCycleError(ModkitError):
    """The dependency graph has a cycle; ``path`` starts and ends with the same module."""

    def __init__(self, path: Sequence[str]) -> None:
        self.path = tuple(path)
        super().__init__(f"dependency cycle: {' -> '.join(self.path)}")


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One configuration problem: a dotted path (``modules.x.config.port``) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ModkitError):
    """The configuration is malformed; ``problems`` lists every problem, each with its path."""

    def __init__(self, problems: Sequence[ConfigProblem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class ModulePhaseError(ModkitError):
    """A module failed (raised or timed out) in a lifecycle phase; start-up stops."""

    def __init__(self, module: str, phase: str, detail: str) -> None:
        self.module = module
        self.phase = phase
        super().__init__(f"module '{module}' failed in phase '{phase}': {detail}")


class RegistryActivationError(ModkitError):
    """The registry refused to switch to ready after init: the entities registered during init
    are not valid together. The message carries the registry's full list of problems."""


class RuntimeStateError(ModkitError):
    """A Runtime method was called in a state where it cannot run (e.g. start twice)."""


class ClientHubError(ModkitError):
    """Base of the ClientHub's errors."""


class ClientNotFoundError(ClientHubError, LookupError):
    """No client is registered for the interface (and scope)."""

    def __init__(self, iface_name: str, scope: str | None = None) -> None:
        self.interface = iface_name
        self.scope = scope
        if scope is None:
            msg = f"no client for {iface_name}"
        else:
            msg = f"no client for {iface_name} in scope '{scope}'"
        super().__init__(msg)


class ClientAlreadyRegisteredError(ClientHubError):
    """A client is already registered for the interface (and scope); ``replace=True`` swaps."""

    def __init__(self, iface_name: str, scope: str | None = None) -> None:
        self.interface = iface_name
        self.scope = scope
        where = "" if scope is None else f" in scope '{scope}'"
        super().__init__(
            f"a client for {iface_name}{where} is already registered (use replace=True to swap it)"
        )


class InvalidClientError(ClientHubError):
    """The interface is not a class, the client does not implement it, or the scope is no GTS id."""
