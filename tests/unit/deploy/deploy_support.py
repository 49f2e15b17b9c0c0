"""What the deployment tests share: the services' defaults from their settings classes,
the YAML under deploy/, and the scripts under scripts/ loaded as modules."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())

SETTINGS = {
    "registry": ("credit_registry.settings", "RegistrySettings"),
    "records": ("credit_records.settings", "RecordsSettings"),
    "lists": ("credit_lists.settings", "ListsSettings"),
    "objections": ("credit_objections.settings", "ObjectionsSettings"),
    "gateway": ("credit_gateway.settings", "GatewaySettings"),
}
SERVICES = list(SETTINGS)
BACKENDS = [s for s in SERVICES if s != "gateway"]


@dataclass(frozen=True)
class Spec:
    """A service as its settings class defines it."""

    name: str
    prefix: str
    port: int
    kind: str  # "grpc" or "http"
    calls: frozenset[str]  # the services whose *_address it reads
    redis: frozenset[str]  # its *_REDIS_URL variables
    shutdown_grace: float  # seconds it lets calls in flight finish after SIGTERM


def spec_of(service: str) -> Spec:
    """The service's defaults; skips the test when its package is absent (work in progress)."""
    module, name = SETTINGS[service]
    try:
        settings: Any = getattr(importlib.import_module(module), name)
    except ImportError:
        pytest.skip(f"{module} is not importable")
    fields = settings.model_fields
    http = "http_port" in fields
    return Spec(
        name=service,
        prefix=str(settings.model_config["env_prefix"]),
        port=int(fields["http_port" if http else "grpc_port"].default),
        kind="http" if http else "grpc",
        calls=frozenset(f.removesuffix("_address") for f in fields if f.endswith("_address")),
        redis=frozenset(
            f"{settings.model_config['env_prefix']}{f.upper()}"
            for f in fields
            if f.endswith("redis_url")
        ),
        shutdown_grace=float(fields["shutdown_grace_seconds"].default),
    )


def load_yaml(path: Path) -> list[dict[str, Any]]:
    """Every document of a YAML file, empty ones left out."""
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def base_resources() -> list[dict[str, Any]]:
    """The resources of the kustomize base, as written (no kustomize needed)."""
    return [
        doc
        for path in sorted((K8S / "base").rglob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml(path)
    ]


def render_overlay(name: str) -> list[dict[str, Any]]:
    """The overlay as kustomize builds it; skips when kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / name)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc is not None]


def load_module(path: Path) -> ModuleType:
    """A Python file outside the packages (a script) imported as a module."""
    module_name = f"deploy_test_{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_script(name: str) -> ModuleType:
    """A script of scripts/ imported as a module."""
    return load_module(ROOT / "scripts" / f"{name}.py")
