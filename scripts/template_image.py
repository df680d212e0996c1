#!/usr/bin/env python3
"""Writes template-image.yaml: template.yaml with every function deployed as the container image
(the Containerfile's `lambda` target: git and sops inside, awslambdaric as the entry point)
instead of a zip with layers. SAM cannot switch PackageType by a condition (`sam build` reads it
literally, and Runtime/Handler/Layers must then be absent), so the image deployment is a second
template, generated from the first so they cannot drift (tests/deploy/test_template_image.py):

    python3 scripts/template_image.py        # rewrites template-image.yaml

What changes: Globals lose Runtime and CodeUri; each function loses Handler and Layers and gets
PackageType: Image, ImageUri (the ImageUri parameter) and ImageConfig.Command [its handler]; the
layers, the GitLayerArn parameter and its condition go. Everything else (events, policies,
environment, the bus, bucket, queues, table) is template.yaml's. Intrinsics come out in their
long form (Fn::Sub, Ref), which CloudFormation reads the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from samtranslator.yaml_helper import yaml_parse

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "template.yaml"
TARGET = REPO / "template-image.yaml"
HEADER = """\
# GENERATED from template.yaml by scripts/template_image.py: do not edit, edit template.yaml.
# The same stack with every function as the container image (Containerfile, target `lambda`:
# git and sops inside, so no GitLayerArn). Build and push it to an ECR repository of the
# stack's account and region, then:
#   sam deploy --template-file template-image.yaml --parameter-overrides ImageUri=<repo>@sha256:...
# (README: git on Lambda).
"""
IMAGE_URI = {
    "Type": "String",
    "Description": "The image of the Containerfile's `lambda` target in an ECR repository of "
    "this account and region, by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/backup2gitops-lambda@sha256:...)",
    "AllowedPattern": r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+(@sha256:[0-9a-f]{64}|:[\w][\w.-]{0,127})$",
}


def image_template(template: dict[str, Any]) -> dict[str, Any]:
    out = dict(template)
    out["Description"] = f"{template.get('Description', '').rstrip()} (container image)"
    parameters = {k: v for k, v in template["Parameters"].items() if k != "GitLayerArn"}
    out["Parameters"] = {"ImageUri": IMAGE_URI, **parameters}
    out["Conditions"] = {k: v for k, v in template["Conditions"].items() if k != "HasGitLayer"}
    function_globals = dict(template["Globals"]["Function"])
    for key in ("Runtime", "CodeUri", "Handler", "Layers"):
        function_globals.pop(key, None)
    out["Globals"] = {**template["Globals"], "Function": function_globals}
    resources: dict[str, Any] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            continue
        if resource["Type"] == "AWS::Serverless::Function":
            props = dict(resource["Properties"])
            handler = props.pop("Handler")
            props.pop("Layers", None)
            props = {
                "PackageType": "Image",
                "ImageUri": {"Ref": "ImageUri"},
                "ImageConfig": {"Command": [handler]},
                **props,
            }
            resource = {**resource, "Properties": props}
        resources[name] = resource
    out["Resources"] = resources
    text = yaml.safe_dump(out, sort_keys=False)
    for gone in ("GitLayerArn", "HasGitLayer", "DependenciesLayer", "KubernetesLayer"):
        assert gone not in text, f"template-image.yaml still names {gone}"
    return out


def render() -> str:
    template = yaml_parse(SOURCE.read_text())
    body = yaml.safe_dump(image_template(template), sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def main() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
