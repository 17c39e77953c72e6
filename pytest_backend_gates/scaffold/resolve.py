"""Reading a value out of the source without running it: names through imports, strings
through f-strings, module constants and settings classes.

An app's schema path is often computed (`openapi_url=f"{settings.API_V1_STR}/openapi.json"`,
with `API_V1_STR: str = "/api/v1"` in a settings class of another module). These follow
such chains a few steps, statically; what cannot be told this way is None, never a guess.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from pytest_backend_gates.scaffold.project import Module, Project

MAX_DEPTH = 8  # steps through names and imports before giving up (also stops cycles)


@dataclass
class Scope:
    """What one module binds at its top level (also inside top-level if/try/with blocks)."""

    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    assigned: dict[str, list[ast.expr]] = field(default_factory=dict)  # name -> values, in order
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)


def top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's statements, with those of top-level if/try/with blocks (not of functions)."""
    for statement in body:
        yield statement
        if isinstance(statement, (ast.If, ast.With, ast.AsyncWith)):
            yield from top_level(statement.body)
            yield from top_level(getattr(statement, "orelse", []))
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody,
                          *(handler.body for handler in statement.handlers)):
                yield from top_level(block)


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under `node` except those of nested functions and classes (their own scopes)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield child
        yield from own_nodes(child)


def assigned_name(statement: ast.stmt) -> tuple[str, ast.expr] | None:
    """`NAME = value` or `NAME: T = value` as (NAME, value)."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Name):
            return target.id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
        return statement.target.id, statement.value
    return None


class Resolver:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.scopes: dict[str, Scope] = {name: self._scope(module) for name, module in project.modules.items()}

    def _scope(self, module: Module) -> Scope:
        scope = Scope()
        package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
        for node in ast.walk(module.tree):  # imports anywhere: a factory often imports inside
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        scope.imports[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        scope.imports.setdefault(top, top)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".") if package else []
                    parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                for alias in node.names:
                    if alias.name != "*":
                        scope.imports[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
        for statement in top_level(module.tree.body):
            named = assigned_name(statement)
            if named is not None:
                scope.assigned.setdefault(named[0], []).append(named[1])
            elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope.functions[statement.name] = statement
            elif isinstance(statement, ast.ClassDef):
                scope.classes[statement.name] = statement
        return scope

    # ---------------------------------------------------------------- names

    def qualified(self, node: ast.expr, module: Module) -> str | None:
        """`FastAPI` -> 'fastapi.FastAPI', `connexion.FlaskApp` -> 'connexion.FlaskApp',
        `create_app` -> 'shop.main.create_app' (defined in the module)."""
        if isinstance(node, ast.Name):
            scope = self.scopes[module.name]
            if node.id in scope.imports:
                return scope.imports[node.id]
            if node.id in scope.functions or node.id in scope.classes or node.id in scope.assigned:
                return f"{module.name}.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value, module)
            return f"{base}.{node.attr}" if base else None
        return None

    def locate(self, qualified: str) -> tuple[Module, str] | None:
        """'pkg.mod.name' -> (the project module pkg.mod, 'name'), following re-exports."""
        for _ in range(MAX_DEPTH):
            module_name, _, name = qualified.rpartition(".")
            module = self.project.modules.get(module_name)
            if module is None:
                return None
            scope = self.scopes[module_name]
            if name in scope.imports and name not in scope.assigned and name not in scope.functions \
                    and name not in scope.classes:
                qualified = scope.imports[name]  # `from .main import app` in a package's __init__
                continue
            return module, name
        return None

    def function(self, node: ast.expr, module: Module) -> tuple[Module, ast.FunctionDef | ast.AsyncFunctionDef] | None:
        """The project's function a call goes to, when it is a plain function of some module."""
        qualified = self.qualified(node, module)
        located = self.locate(qualified) if qualified else None
        if located is None:
            return None
        owner, name = located
        definition = self.scopes[owner.name].functions.get(name)
        return (owner, definition) if definition is not None else None

    def value_of(self, name: str, module: Module) -> tuple[Module, ast.expr] | None:
        """The last top-level value bound to `name` in `module` (or where it was imported from)."""
        scope = self.scopes[module.name]
        if name in scope.assigned:
            return module, scope.assigned[name][-1]
        if name in scope.imports:
            located = self.locate(scope.imports[name])
            if located is not None and located[1] in self.scopes[located[0].name].assigned:
                return located[0], self.scopes[located[0].name].assigned[located[1]][-1]
        return None

    # ---------------------------------------------------------------- strings

    def string(self, node: ast.expr | None, module: Module, depth: int = 0) -> str | None:
        """The string `node` always evaluates to, when the source says so; else None."""
        if node is None or depth > MAX_DEPTH:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    if value.format_spec is not None or value.conversion not in (-1, ord("s")):
                        return None
                    text = self.string(value.value, module, depth + 1)
                else:
                    text = self.string(value, module, depth + 1)
                if text is None:
                    return None
                parts.append(text)
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.string(node.left, module, depth + 1), self.string(node.right, module, depth + 1)
            return left + right if left is not None and right is not None else None
        if isinstance(node, ast.Name):
            bound = self.value_of(node.id, module)
            return self.string(bound[1], bound[0], depth + 1) if bound else None
        if isinstance(node, ast.Attribute):
            found = self.attribute(node, module, depth)
            return self.string(found[1], found[0], depth + 1) if found else None
        return None

    def attribute(self, node: ast.Attribute, module: Module, depth: int = 0) -> tuple[Module, ast.expr] | None:
        """The value of `obj.NAME` where obj is a project module, a class, or an instance made at
        top level by calling a class (`settings = Settings()`, `Settings.from_env()`)."""
        qualified = self.qualified(node, module)
        if qualified is not None:
            located = self.locate(qualified)
            if located is not None and located[1] in self.scopes[located[0].name].assigned:
                return located[0], self.scopes[located[0].name].assigned[located[1]][-1]
        owner = self._class_of(node.value, module, depth + 1)
        if owner is None:
            return None
        class_module, class_def = owner
        for statement in class_def.body:
            named = assigned_name(statement)
            if named is not None and named[0] == node.attr:
                return class_module, _field_default(named[1])
        return None

    def _class_of(self, node: ast.expr, module: Module,
                  depth: int) -> tuple[Module, ast.ClassDef] | None:
        if depth > MAX_DEPTH:
            return None
        qualified = self.qualified(node, module)
        located = self.locate(qualified) if qualified else None
        if located is not None:
            owner, name = located
            scope = self.scopes[owner.name]
            if name in scope.classes:
                return owner, scope.classes[name]
            if name in scope.assigned:
                value = scope.assigned[name][-1]
                if isinstance(value, ast.Call):  # an instance: Settings() or Settings.from_env()
                    made_by = value.func.value if isinstance(value.func, ast.Attribute) else value.func
                    return self._class_of(made_by, owner, depth + 1)
        return None


def _field_default(value: ast.expr) -> ast.expr:
    """A dataclass/pydantic field's default: `field(default="x")`, `Field("x")`, else the value."""
    if isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)):
        name = value.func.id if isinstance(value.func, ast.Name) else value.func.attr
        if name in ("field", "Field"):
            for keyword in value.keywords:
                if keyword.arg == "default":
                    return keyword.value
            if value.args:
                return value.args[0]
    return value


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == name:
            return item.value
    return None


def is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def call_name(node: ast.expr) -> str:
    """The last name of what is called: `connexion.FlaskApp` -> 'FlaskApp'."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
