"""Static checks on a journey, so mistakes fail before any request is sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from replayqa.actions import RequestAction
from replayqa.errors import JourneyError, TemplateError
from replayqa.model import Branch, Checkpoint, Journey, Node, Step
from replayqa.templates import parse_path

_BUILTIN_NAMES = {"run_id", "run_key", "steps"}


def validate_journey(journey: Journey, variables: Iterable[str] = ()) -> None:
    """Raise JourneyError for the first thing that cannot run as written.

    Branches must name a checkpoint taken earlier on their own route, and
    template references must name a value or an earlier step. Names that a
    Python step may set at run time cannot be known, so after the first
    Python step only ``steps.<name>`` references are checked.
    """
    where = f"journey {journey.name!r}" + (f" ({journey.source})" if journey.source else "")
    names = set(_BUILTIN_NAMES) | set(journey.variables) | set(variables)
    _walk(journey.steps, where, checkpoints=set(), steps=set(), names=names, strict=True)


def _walk(
    nodes: Sequence[Node],
    where: str,
    checkpoints: set[str],
    steps: set[str],
    names: set[str],
    strict: bool,
) -> None:
    checkpoints, steps, names = set(checkpoints), set(steps), set(names)
    for node in nodes:
        if isinstance(node, Checkpoint):
            checkpoints.add(node.name)
        elif isinstance(node, Branch):
            if node.checkpoint_name not in checkpoints:
                known = ", ".join(sorted(checkpoints)) or "none"
                raise JourneyError(
                    f"{where}: Branch names checkpoint {node.checkpoint_name!r}, which is not "
                    f"taken before it on this route (taken: {known}); add "
                    f"Checkpoint({node.checkpoint_name!r}) before the Branch"
                )
            seen: set[str] = set()
            for path in node.paths:
                if path.name in seen:
                    raise JourneyError(f"{where}: two paths named {path.name!r} in one Branch")
                seen.add(path.name)
                _walk(path.steps, f"{where}, path {path.name!r}", checkpoints, steps, names, strict)
        elif isinstance(node, Step):
            if isinstance(node.action, RequestAction):
                _check_references(node, where, steps, names if strict else None)
            else:
                strict = False
            steps.add(node.name)
            names.update(node.save)
        else:
            raise JourneyError(f"{where}: {node!r} is not a Step, Checkpoint or Branch")


def _check_references(step: Step, where: str, steps: set[str], names: set[str] | None) -> None:
    assert isinstance(step.action, RequestAction)
    for reference in step.action.references():
        parts = parse_path(reference)
        head = parts[0] if parts else ""
        if head == "steps":
            target = parts[1] if len(parts) > 1 else ""
            if target not in steps:
                known = ", ".join(sorted(steps)) or "none yet"
                raise TemplateError(
                    f"{where}, step {step.name!r}: unknown template reference "
                    f"{{{{ {reference} }}}}: no earlier step {target!r} (earlier steps: {known})"
                )
        elif names is not None and head not in names:
            known = ", ".join(sorted(names - _BUILTIN_NAMES)) or "none"
            raise TemplateError(
                f"{where}, step {step.name!r}: unknown template reference {{{{ {reference} }}}}: "
                f"no value {head!r} (values: {known}; add it under vars: or save: it from a step)"
            )


def free_names(journey: Journey) -> set[str]:
    """Values a journey uses that it neither saves nor defines: what ``--var`` must give."""
    found: set[str] = set()

    def walk(nodes: Sequence[Node], names: set[str]) -> None:
        names = set(names)
        for node in nodes:
            if isinstance(node, Branch):
                for path in node.paths:
                    walk(path.steps, names)
            elif isinstance(node, Step):
                if isinstance(node.action, RequestAction):
                    for reference in node.action.references():
                        parts = parse_path(reference)
                        head = str(parts[0]) if parts else ""
                        if head and head not in names:
                            found.add(head)
                names.update(node.save)

    walk(journey.steps, set(_BUILTIN_NAMES) | set(journey.variables))
    return found
