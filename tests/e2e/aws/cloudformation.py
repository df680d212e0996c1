"""template.yaml as CloudFormation would see it: translated by the SAM translator (samtranslator,
offline, as in tests/deploy/test_sam.py), then its intrinsic functions resolved for one stack's
parameters and the physical names the test gives its resources.

Only what template.yaml uses is resolved: ``Ref`` (parameters, pseudo parameters, resources),
``Fn::Sub`` (both forms), ``Fn::GetAtt`` (``Arn``, ``FunctionUrl``), ``Fn::If`` with the
template's ``Conditions`` (``Fn::Not``, ``Fn::Equals``, ``Fn::Or``, ``Fn::And``, ``Condition``),
``Fn::Select``, ``Fn::Split``, ``Fn::Join``, and ``AWS::NoValue`` (the key or item is dropped).
Anything else raises, so a template change the test does not understand fails loudly.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "template.yaml"
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
LAYERS = ("DependenciesLayer", "KubernetesDependenciesLayer")
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ),
}


class _Drop:
    """``Ref: AWS::NoValue``."""


NO_VALUE = _Drop()


class _ManagedPolicies:
    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def translate(template_text: str | None = None) -> dict[str, Any]:
    """The translated (plain CloudFormation) template; local code locations become S3 URIs as
    ``sam package`` would make them."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    tpl = yaml_parse(template_text if template_text is not None else TEMPLATE.read_text())
    tpl["Globals"]["Function"]["CodeUri"] = "s3://sam-artifacts/backup2gitops/functions.zip"
    for layer in LAYERS:
        tpl["Resources"][layer]["Properties"]["ContentUri"] = (
            f"s3://sam-artifacts/backup2gitops/{layer}.zip"
        )
    return dict(transform(tpl, {}, _ManagedPolicies()))


@dataclass
class Stack:
    """One stack of the translated template: its parameters and its resources' physical ids."""

    name: str
    template: dict[str, Any]
    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)
    """Logical id -> what ``Ref`` gives (a bucket's name, a queue's URL, a table's name)."""
    arns: dict[str, str] = field(default_factory=dict)
    """Logical id -> what ``Fn::GetAtt [id, Arn]`` gives."""
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        values = {k: str(v.get("Default", "")) for k, v in declared.items() if "Default" in v}
        values.update(self.parameters)
        missing = set(declared) - set(values)
        if missing:
            raise ValueError(f"parameters without a value: {sorted(missing)}")
        self.parameters = values

    @property
    def stack_id(self) -> str:
        return (
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.name}/"
            "6a0b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d"
        )

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == rtype}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"Ref {name}: no parameter or created resource of that name")

    def get_att(self, logical: str, attribute: str) -> str:
        if (logical, attribute) in self.attributes:
            return self.attributes[(logical, attribute)]
        if attribute == "Arn" and logical in self.arns:
            return self.arns[logical]
        raise KeyError(f"Fn::GetAtt {logical}.{attribute}: not created")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, {k: self.resolve(v) for k, v in local.items()})
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
            if key.startswith("Fn::"):
                raise NotImplementedError(f"{key} is not resolved by tests/e2e/aws")
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _sub(self, text: str, local: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def copy(self) -> Stack:
        return copy.deepcopy(self)


__all__ = ["ACCOUNT", "REGION", "REPO", "TEMPLATE", "Stack", "translate"]
