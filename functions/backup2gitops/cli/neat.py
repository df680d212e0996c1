"""``backup2gitops neat``: clean Kubernetes manifests from a file or stdin, like kubectl-neat.

Reads YAML or JSON (one object, a ``kind: List`` or several documents) and prints every object
cleaned, as multi-document YAML or JSON (or a table). The input is read as one backup: a
custom resource whose CRD is in it loses that CRD's schema defaults. ``--exclude`` also applies
the generator's exclusions (a controller-owned Pod, a provisioned volume, a StatefulSet's claim
when the StatefulSet is in the input, ...) and says on stderr what it left out and why.
Without ``metadata.managedFields`` (``kubectl get`` omits them), one line on stderr says which
choices were made without knowing who wrote the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args

from backup2gitops.cli.output import add_output_option
from backup2gitops.core.cleaning.policy import CleaningPolicy
from backup2gitops.core.yaml_errors import describe_parse_error

DESCRIPTION = """\
Clean Kubernetes manifests from a file or stdin, like kubectl-neat: status, server-set fields
and defaulted values go (also a custom resource's schema defaults, when its CRD is in the
input); every object given is printed, cleaned. --exclude leaves out what `generate` keeps out
of a repository (controller-owned objects, Events, dynamically provisioned volumes, the claims
of a StatefulSet in the input, Helm's release records, ...), one line each on stderr with the
reason. Secrets follow --secrets. Input: YAML or JSON, one object, a List or several
documents. Output: multi-document YAML (default), JSON (one object, or a List), or a table."""

SECRET_MODES: tuple[str, ...] = get_args(CleaningPolicy.model_fields["secrets"].annotation)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "neat",
        help="clean Kubernetes manifests (status, server fields, defaults)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-f", "--filename", default="-", help="input file; '-' or omitted: stdin")
    add_output_option(parser, formats=("yaml", "json", "table", "name"), default="yaml")
    parser.add_argument(
        "--config",
        help="configuration file whose generator.cleaning policy applies "
        "(default: $BACKUP2GITOPS_CONFIG, else the built-in policy)",
    )
    parser.add_argument(
        "--secrets",
        choices=SECRET_MODES,
        help="what to do with Secrets (default: the configuration's, else exclude)",
    )
    parser.add_argument(
        "--exclude",
        action="store_true",
        help="leave out what generate excludes from a repository, saying why on stderr",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from backup2gitops.core import cleaning, kube_yaml
    from backup2gitops.core.cleaning.controller_fields import blind_choices
    from backup2gitops.core.cleaning.objectref import ObjectRef

    try:
        text = (
            sys.stdin.read()
            if args.filename == "-"
            else Path(args.filename).read_text(encoding="utf-8")
        )
        objects = kube_yaml.load_all(text)
    except (OSError, ValueError) as err:
        cause = err.__cause__
        if cause is not None:  # one line, file:line:column, not PyYAML's five
            source = "stdin" if args.filename == "-" else args.filename
            err = ValueError(describe_parse_error(cause, source=source))
        print(f"neat: {err}", file=sys.stderr)
        return 2
    policy = _policy(args)
    if policy is None:
        return 2
    index = cleaning.BackupIndex.of(objects)
    kept: list[dict[str, Any]] = []
    blind: dict[str, int] = {}
    for obj in objects:
        for choice in blind_choices(obj):
            blind[choice] = blind.get(choice, 0) + 1
        prepared = cleaning.prepare(obj, policy=policy, index=index, exclude=args.exclude)
        if prepared.excluded is not None:
            print(f"excluded {ObjectRef.of(obj).describe()}: {prepared.excluded}", file=sys.stderr)
        elif prepared.encrypt:
            # neat has no key material: never print a Secret that must be encrypted in clear.
            print(
                f"excluded {ObjectRef.of(obj).describe()}: sops encryption is not done by neat",
                file=sys.stderr,
            )
        elif prepared.object is not None:
            kept.append(prepared.object)
    if blind:
        print(_blind_warning(blind), file=sys.stderr)
    sys.stdout.write(_render(kept, output=args.output))
    return 0


def _policy(args: argparse.Namespace) -> CleaningPolicy | None:
    """The configuration's cleaning policy (``--config`` or ``$BACKUP2GITOPS_CONFIG``), with
    ``--secrets`` over it; the built-in policy when no configuration is named."""
    import os

    from backup2gitops.config import CONFIG_ENV, ConfigError, load_config

    policy = CleaningPolicy()
    if args.config or os.environ.get(CONFIG_ENV):
        try:
            policy = load_config(args.config).generator.cleaning
        except ConfigError as err:
            print(f"neat: {err}", file=sys.stderr)
            return None
    if args.secrets is not None:
        policy = policy.model_copy(update={"secrets": args.secrets})
    return policy


def object_name(obj: dict[str, Any]) -> str:
    """kubectl's ``-o name``: ``deployment.apps/web``, ``configmap/settings``."""
    kind = str(obj.get("kind", "")).lower()
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    resource = f"{kind}.{group}" if group else kind
    return f"{resource}/{obj.get('metadata', {}).get('name', '')}"


def _blind_warning(blind: dict[str, int]) -> str:
    """One line: which choices were made without knowing who wrote the field."""
    fields = ", ".join(f"{name} ({count})" for name, count in sorted(blind.items()))
    return (
        "neat: warning: no metadata.managedFields in the input (kubectl get omits them; add "
        f"--show-managed-fields), so who wrote these was not known: {fields}; a nodePort set "
        "by server-side apply was dropped as allocated, a value a controller wrote was kept"
    )


def _render(objects: list[dict[str, Any]], *, output: str) -> str:
    if output == "json":
        if len(objects) == 1:
            return json.dumps(objects[0], indent=2, sort_keys=True) + "\n"
        listing = {"apiVersion": "v1", "kind": "List", "items": objects}
        return json.dumps(listing, indent=2, sort_keys=True) + "\n"
    if output == "name":
        return "".join(f"{object_name(obj)}\n" for obj in objects)
    if output == "table":
        rows = [("KIND", "NAMESPACE", "NAME")] + [
            (
                str(obj.get("kind", "")),
                str(obj.get("metadata", {}).get("namespace", "")),
                str(obj.get("metadata", {}).get("name", "")),
            )
            for obj in objects
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "".join(
            "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
            for row in rows
        )
    from backup2gitops.core import kube_yaml

    return "---\n".join(kube_yaml.dump(obj) for obj in objects)
