"""The cleaning policy: which objects go to git and how Secrets and allocated values are treated.

Pure: no I/O; only the standard library and pydantic.
"""

from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backup2gitops.core.cleaning.selector import LabelSelector, parse_selector


def _selector_parses(value: str) -> str:
    parse_selector(value)  # raises ValueError naming what is wrong
    return value


def _no_blank_entries(value: list[str]) -> list[str]:
    if any(not entry.strip() for entry in value):
        raise ValueError("entries must not be empty")
    return value


SelectorText = Annotated[str, AfterValidator(_selector_parses)]
"""A label selector in kubectl syntax, checked when the model is built."""
Entries = Annotated[list[str], AfterValidator(_no_blank_entries)]
"""A list of names or globs, none of them blank."""


class CleaningPolicy(BaseModel):
    """How objects are filtered and cleaned.

    - ``secrets``: ``exclude`` (default: Secrets never reach git), ``redact`` (keys kept, values
      replaced by a placeholder), ``sops`` (kept, the caller must encrypt before writing),
      ``plaintext`` (kept as is; only when the configuration says so explicitly).
    - ``include_namespaces`` / ``exclude_namespaces``: globs over the namespace of namespaced
      objects and over the name of Namespace objects; other cluster-scoped objects pass.
    - ``include_kinds`` / ``exclude_kinds``: ``Kind`` (any group) or ``Kind.group``
      (``Deployment.apps``, ``Certificate.cert-manager.io``); ``Kind.`` names the core group only;
      case-insensitive. An empty include list includes every kind.
    - ``label_selector``: kubectl syntax, e.g. ``app=web,tier!=cache,env in (prod,stage),!legacy``.
    - ``exclude_names``: globs over ``namespace/name`` (namespaced) or ``name`` (cluster-scoped).
    - ``keep_provisioned_volumes``: keep PersistentVolumes a provisioner created (default: their
      claims are in git, and applying the claim provisions a new volume).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    secrets: Literal["exclude", "redact", "sops", "plaintext"] = Field(
        default="exclude",
        description="exclude: never in git; redact: keys kept, values replaced; sops: encrypted "
        "(needs generator.sops_age_recipients); plaintext: as is, only when said explicitly",
    )
    keep_node_ports: bool = Field(default=False, description="keep allocated Service nodePorts")
    keep_cluster_ip: bool = Field(default=False, description="keep allocated clusterIP(s)")
    keep_provisioned_volumes: bool = Field(
        default=False, description="keep PersistentVolumes a provisioner created"
    )
    include_namespaces: list[str] = Field(
        default=["*"], description="globs over namespaces (and Namespace names)"
    )
    exclude_namespaces: list[str] = Field(default=[], description="globs, applied after include")
    include_kinds: Entries = Field(
        default=[], description="Kind or Kind.group (Deployment.apps); empty: every kind"
    )
    exclude_kinds: Entries = Field(default=[], description="Kind or Kind.group")
    label_selector: SelectorText | None = Field(
        default=None, description="kubectl syntax: app=web,tier!=cache,env in (prod,stage)"
    )
    exclude_names: list[str] = Field(
        default=[], description="globs over namespace/name (or name when cluster-scoped)"
    )

    def selector(self) -> LabelSelector | None:
        return None if self.label_selector is None else parse_selector(self.label_selector)

    def namespace_allowed(self, namespace: str) -> bool:
        included = "*" in self.include_namespaces or any(  # "*": the default, every namespace
            fnmatchcase(namespace, glob) for glob in self.include_namespaces
        )
        return included and not (
            self.exclude_namespaces
            and any(fnmatchcase(namespace, glob) for glob in self.exclude_namespaces)
        )

    def kind_allowed(self, *, kind: str, group: str) -> bool:
        if self.include_kinds and not any(
            _kind_matches(e, kind, group) for e in self.include_kinds
        ):
            return False
        return not self.exclude_kinds or not any(
            _kind_matches(entry, kind, group) for entry in self.exclude_kinds
        )

    def name_excluded(self, qualified_name: str) -> bool:
        return bool(self.exclude_names) and any(
            fnmatchcase(qualified_name, glob) for glob in self.exclude_names
        )


def _kind_matches(entry: str, kind: str, group: str) -> bool:
    entry_kind, dot, entry_group = entry.strip().partition(".")
    if entry_kind.lower() != kind.lower():
        return False
    return not dot or entry_group.lower() == group.lower()
